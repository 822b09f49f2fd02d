"""Any image input → one canonical uint8 array, or a ValueError that says what is wrong.

Accepted: a file path, a PIL image or a numpy array (H×W, H×W×1, H×W×3 RGB, H×W×4 RGBA;
bool, uint8, uint16, other integers, or floats in [0, 1]). The result is uint8, H×W for
grey inputs and H×W×3 RGB for colour ones. 16-bit images are scaled (not clipped), alpha
is composited on white, EXIF orientation is honoured.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded
MEGABYTE = 1024 * 1024
MAX_FILE_BYTES = 20 * MEGABYTE
# Only the decoders the app needs; anything else is refused without being parsed.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")


def load(image) -> np.ndarray:
    """Converts `image` to a uint8 array: H×W (grey) or H×W×3 (RGB).

    Raises:
        ValueError: empty, unreadable, too large, or of an unsupported type, shape or dtype.
    """
    if image is None:
        raise ValueError("No image was given.")
    if isinstance(image, (str, os.PathLike)):
        return _from_path(Path(image))
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        return _from_array(image)
    raise ValueError(f"Unsupported image type {type(image).__name__}: give a file path, a PIL image or a numpy array.")


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """A canonical array as uint8 H×W grey (ITU-R BT.601 luma, as OpenCV and Pillow compute it)."""
    if pixels.ndim == 2:
        return pixels
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(pixels.astype(np.float32) @ weights), 0, 255).astype(np.uint8)


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """A canonical array as uint8 H×W×3 RGB."""
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def _from_path(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"No image file at {path}.")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path.name} is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is {size / MEGABYTE:.1f} MB; the limit is {MAX_FILE_BYTES / MEGABYTE:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=ALLOWED_FORMATS) as opened:
                return _from_pil(opened)
    except UnidentifiedImageError:
        raise ValueError(f"{path.name} is not an image this app can read (supported: {', '.join(ALLOWED_FORMATS)}).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{path.name} has too many pixels (limit {MAX_PIXELS / 1e6:.0f} megapixels).") from None
    except (OSError, SyntaxError) as error:  # truncated or corrupt files
        raise ValueError(f"{path.name} could not be decoded: it looks truncated or corrupt ({error}).") from None


def _from_pil(image: Image.Image) -> np.ndarray:
    width, height = image.size
    if width * height == 0:
        raise ValueError("The image is empty (0 pixels).")
    if width * height > MAX_PIXELS:
        raise ValueError(f"The image has {width * height / 1e6:.0f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f}.")
    if getattr(image, "is_animated", False):
        image.seek(0)  # animated images: the first frame
    if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        image = ImageOps.exif_transpose(image)  # a copy, turned as the camera was held (else no copy)
    mode = image.mode
    if mode.startswith("I"):  # 16-bit greys arrive as I;16 or 32-bit I: scale them as 16-bit
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError("32-bit integer images are not supported; save the image with 8 or 16 bits.")
        return _from_array(values.astype(np.uint16))
    if mode == "F":  # 32-bit float (TIFF): the same rule as float arrays, values in [0, 1]
        return _from_array(np.asarray(image, dtype=np.float32))
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("1", "L"):
        return np.asarray(image.convert("L"))
    elif mode == "LA" or mode == "La":
        image = image.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    return _from_array(np.asarray(image))


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.size == 0:
        raise ValueError(f"The image array is empty (shape {array.shape}).")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"Unsupported image shape {array.shape}: expected H×W, H×W×1, H×W×3 or H×W×4.")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ValueError(
            f"The image has {array.shape[0] * array.shape[1] / 1e6:.0f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f}."
        )
    pixels = _to_uint8(array)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = _composite_on_white(pixels)
    return np.ascontiguousarray(pixels)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("The image contains NaN or infinite values.")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"Float images must hold values in [0, 1]; this one spans [{low:.3g}, {high:.3g}].")
        return np.rint(array * 255.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0:
            raise ValueError("Integer images must not hold negative values.")
        if array.dtype == np.uint16 or array.max() > 255:
            if array.max() > 65535:
                raise ValueError("Integer images must hold values up to 65535 (8 or 16 bits).")
            # 16-bit images are scaled to 8 bits by the 16-bit range, not clipped.
            return np.rint(array.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
        return array.astype(np.uint8)
    raise ValueError(f"Unsupported pixel type {array.dtype}: use uint8, uint16 or floats in [0, 1].")


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Transparent pixels become white, as a browser shows them on a white page."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.rint(rgb).astype(np.uint8)
