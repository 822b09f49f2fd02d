"""A corpus of awkward and hostile image files, made on the fly (nothing is committed).

`build(folder)` writes every file into `folder` and returns one `Case` per file. A case
either expects a result (`error is None`; `check` asserts its properties on the loaded
array) or a ValueError whose message contains the keyword `error`. `app_error`, when set,
is what the app answers instead (an upload refused before our code sees it).

Everything here is deterministic and fast: the largest file (a 25-megapixel JPEG) is a
smooth picture that compresses to about a megabyte.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112
UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024  # the app's max_file_size ("10mb")
UPLOAD_LIMIT_KEYWORD = "maximum"  # Gradio refuses a larger upload: "... exceeds the maximum (allowed) file size ..."


@dataclass(frozen=True)
class Case:
    """One corpus file and what `segdemo.images.load` should make of it.

    Attributes:
        name: the file name (also the test id).
        path: where the file was written.
        error: a keyword of the expected ValueError message; None when a result is expected.
        shape: the expected shape of the loaded array (only when a result is expected).
        check: further assertions on the loaded array (only when a result is expected).
        app_error: the keyword the app answers with when it differs from `load()`'s outcome.
    """

    name: str
    path: Path
    error: str | None = None
    shape: tuple[int, ...] | None = None
    check: Callable[[np.ndarray], None] | None = None
    app_error: str | None = None

    @property
    def expects_result(self) -> bool:
        return self.error is None

    def app_expectation(self) -> str | None:
        """The keyword the app's error must contain, or None when the app must answer."""
        return self.app_error or self.error


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth, photo-like RGB picture: random colours enlarged bilinearly (fast to make)."""
    small = _rng(seed).integers(0, 256, (max(2, height // 100), max(2, width // 100), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)


def _encoded(image: Image.Image, format: str, **options) -> bytes:
    """The image's file content in `format`, in memory."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- files that must be refused ------------------------------------------------------------


def text_as_png(folder: Path) -> Case:
    path = folder / "text_renamed.png"
    path.write_text("Dear students, this is a text file with a .png name.\n")
    return Case(path.name, path, error="not an image")


def empty_file(folder: Path) -> Case:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return Case(path.name, path, error="empty")


def truncated_jpeg(folder: Path) -> Case:
    path = folder / "truncated.jpg"
    data = _encoded(_photo(320, 240, seed=1), "JPEG", quality=90)
    path.write_bytes(data[: len(data) // 2])
    return Case(path.name, path, error="truncated")


def truncated_png(folder: Path) -> Case:
    path = folder / "truncated.png"
    noisy = Image.fromarray(_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8))
    data = _encoded(noisy, "PNG")
    path.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut in the middle
    return Case(path.name, path, error="truncated")


def bomb_real(folder: Path) -> Case:
    """A genuine 7000×7000 (49-megapixel) 1-bit PNG: a few kilobytes on disk."""
    path = folder / "bomb_7000x7000.png"
    Image.new("1", (7000, 7000), 0).save(path, optimize=True)
    return Case(path.name, path, error="megapixels")


def bomb_header(folder: Path) -> Case:
    """A PNG whose header claims 60000×60000 pixels (3.6 gigapixels) with almost no data."""
    path = folder / "bomb_header_60000.png"
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)  # 8-bit grey
    pixels = zlib.compress(b"\0" * 60001)  # one row; the rest is "missing"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b""))
    return Case(path.name, path, error="megapixels")


def over_byte_limit(folder: Path) -> Case:
    """21 MB of random bytes named .png: over both the app's and `load()`'s size limits."""
    path = folder / "random_21mb.png"
    path.write_bytes(_rng(3).bytes(21 * 1024 * 1024))
    return Case(path.name, path, error="limit", app_error=UPLOAD_LIMIT_KEYWORD)


def svg(folder: Path) -> Case:
    path = folder / "drawing.svg"
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20" fill="black"/></svg>\n'
    )
    return Case(path.name, path, error="not an image")


def tga(folder: Path) -> Case:
    """A Targa file: Pillow reads it, but it is not one of the formats the app allows."""
    path = folder / "unsupported.tga"
    _photo(40, 30, seed=4).save(path, format="TGA")
    return Case(path.name, path, error="not an image")


def ico(folder: Path) -> Case:
    path = folder / "unsupported.ico"
    _photo(32, 32, seed=5).save(path, format="ICO")
    return Case(path.name, path, error="not an image")


def float_tiff_out_of_range(folder: Path) -> Case:
    """A 32-bit float TIFF in raw units (0..1000): there is no one right way to show it."""
    path = folder / "float_range_1000.tif"
    Image.fromarray(np.linspace(0.0, 1000.0, 64 * 48, dtype=np.float32).reshape(48, 64), mode="F").save(path)
    return Case(path.name, path, error="[0, 1]")


# --- files that must give a correct result -------------------------------------------------


def large_photo(folder: Path) -> Case:
    """A 6000×4200 (25-megapixel) JPEG: decoded at full size, labels at full size too."""
    path = folder / "photo_25mp.jpg"
    _photo(6000, 4200, seed=6).save(path, quality=85)
    return Case(path.name, path, shape=(4200, 6000, 3))


def animated_gif(folder: Path) -> Case:
    """Three frames of different greys: the first frame is used."""
    path = folder / "animated.gif"
    frames = [Image.new("L", (24, 16), value) for value in (40, 160, 250)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)

    def check(pixels: np.ndarray) -> None:
        assert np.all(pixels == 40), "not the first frame"

    return Case(path.name, path, shape=(16, 24, 3), check=check)


def palette_transparent(folder: Path) -> Case:
    """A palette PNG whose index 0 is transparent: those pixels become white."""
    path = folder / "palette_transparent.png"
    indices = np.zeros((20, 30), np.uint8)
    indices[:, 15:] = 1
    image = Image.fromarray(indices, mode="P")
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.save(path, transparency=0)

    def check(pixels: np.ndarray) -> None:
        assert np.all(pixels[:, :15] == 255), "transparent pixels are not white"
        assert pixels[0, 20].tolist() == [200, 30, 30]

    return Case(path.name, path, shape=(20, 30, 3), check=check)


def rgba(folder: Path) -> Case:
    """Opaque, half-transparent and fully transparent blue: composited on white."""
    path = folder / "rgba.png"
    array = np.zeros((10, 30, 4), np.uint8)
    array[..., 2] = 200
    array[:, :10, 3] = 255
    array[:, 10:20, 3] = 128
    Image.fromarray(array, mode="RGBA").save(path)

    def check(pixels: np.ndarray) -> None:
        assert pixels[0, 0].tolist() == [0, 0, 200]
        assert pixels[0, 15].tolist() == [127, 127, 227]  # 50 % blue over white
        assert pixels[0, 25].tolist() == [255, 255, 255]

    return Case(path.name, path, shape=(10, 30, 3), check=check)


def la(folder: Path) -> Case:
    """Grey with alpha: a dark opaque half and a transparent half (white)."""
    path = folder / "grey_alpha.png"
    array = np.zeros((12, 20, 2), np.uint8)
    array[..., 0] = 30
    array[:, :10, 1] = 255
    Image.fromarray(array, mode="LA").save(path)

    def check(pixels: np.ndarray) -> None:
        assert np.all(pixels[:, :10] == 30) and np.all(pixels[:, 10:] == 255)

    return Case(path.name, path, shape=(12, 20, 3), check=check)


def grey_16_bit(folder: Path) -> Case:
    """16-bit grey from 0 to 65535: scaled to 0..255 (clipping would make most of it white)."""
    path = folder / "grey_16bit.png"
    ramp = np.array([[0, 1000, 257 * 100, 32768, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(ramp).save(path)

    def check(pixels: np.ndarray) -> None:
        assert pixels[0].tolist() == [0, 4, 100, 128, 255]

    return Case(path.name, path, shape=(4, 5), check=check)


def cmyk_jpeg(folder: Path) -> Case:
    """A CMYK JPEG of a red and a blue half: converted to RGB with the colours kept."""
    path = folder / "cmyk.jpg"
    array = np.zeros((16, 32, 3), np.uint8)
    array[:, :16] = (220, 20, 20)
    array[:, 16:] = (20, 20, 220)
    Image.fromarray(array).convert("CMYK").save(path, quality=95)

    def check(pixels: np.ndarray) -> None:
        left, right = pixels[8, 4].astype(int), pixels[8, 28].astype(int)
        assert left[0] > 150 and left[2] < 100, f"red half is {left.tolist()}"
        assert right[2] > 150 and right[0] < 100, f"blue half is {right.tolist()}"

    return Case(path.name, path, shape=(16, 32, 3), check=check)


# Where the stored top-left corner must appear after honouring each EXIF orientation.
ORIENTATION_CORNERS = {3: "bottom-right", 6: "top-right", 8: "bottom-left"}
ORIENTATION_ROTATIONS = {3: 2, 6: -1, 8: 1}  # np.rot90 turns (counter-clockwise) that undo the tag


def exif_orientation(orientation: int) -> Callable[[Path], Case]:
    """An asymmetric 60×30 grey JPEG with a bright block in its stored top-left corner."""

    def build(folder: Path) -> Case:
        path = folder / f"exif_orientation_{orientation}.jpg"
        stored = np.full((30, 60), 20, np.uint8)
        stored[:10, :10] = 240
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
        expected = np.rot90(stored, ORIENTATION_ROTATIONS[orientation])

        def check(pixels: np.ndarray) -> None:
            assert _bright_corner(pixels) == ORIENTATION_CORNERS[orientation]
            assert np.abs(pixels.astype(int) - expected).max() < 40

        return Case(path.name, path, shape=expected.shape, check=check)

    build.__name__ = f"exif_orientation_{orientation}"
    return build


def _bright_corner(pixels: np.ndarray) -> str:
    corners = {
        "top-left": pixels[2, 2],
        "top-right": pixels[2, -3],
        "bottom-left": pixels[-3, 2],
        "bottom-right": pixels[-3, -3],
    }
    return max(corners, key=lambda corner: int(corners[corner]))


def one_pixel(folder: Path) -> Case:
    path = folder / "one_pixel.png"
    Image.new("RGB", (1, 1), (10, 200, 30)).save(path)

    def check(pixels: np.ndarray) -> None:
        assert pixels[0, 0].tolist() == [10, 200, 30]

    return Case(path.name, path, shape=(1, 1, 3), check=check)


def eight_by_eight(folder: Path) -> Case:
    path = folder / "eight_by_eight.png"
    array = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(array).save(path)

    def check(pixels: np.ndarray) -> None:
        assert np.array_equal(pixels, array)

    return Case(path.name, path, shape=(8, 8), check=check)


def strip(height: int, width: int) -> Callable[[Path], Case]:
    """A grey strip one to a few pixels across: networks that run at the image's own size see maps
    with a side of 1 (a 3×4000 image once broke the eliret skip comparison)."""

    def build(folder: Path) -> Case:
        path = folder / f"strip_{height}x{width}.png"
        Image.fromarray(_rng(height * width).integers(0, 256, (height, width), dtype=np.uint8)).save(path)
        return Case(path.name, path, shape=(height, width))

    build.__name__ = f"strip_{height}x{width}"
    return build


def over_upload_limit_bmp(folder: Path) -> Case:
    """A valid, incompressible 12 MB BMP: `load()` reads it; the app refuses the upload."""
    path = folder / "noise_12mb.bmp"
    Image.fromarray(_rng(7).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)).save(path)
    assert path.stat().st_size > UPLOAD_LIMIT_BYTES
    return Case(path.name, path, shape=(2000, 2000, 3), app_error=UPLOAD_LIMIT_KEYWORD)


def png_named_jpg(folder: Path) -> Case:
    """A PNG with a .jpg name: the content decides, not the name."""
    path = folder / "really_a_png.jpg"
    Image.new("L", (16, 12), 99).save(path, format="PNG")

    def check(pixels: np.ndarray) -> None:
        assert np.all(pixels == 99)

    return Case(path.name, path, shape=(12, 16), check=check)


def float_tiff_unit_range(folder: Path) -> Case:
    """A 32-bit float TIFF holding values in [0, 1]: scaled by 255, like a float array."""
    path = folder / "float_unit.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F").save(path)

    def check(pixels: np.ndarray) -> None:
        assert pixels.tolist() == [[0, 128, 255]]

    return Case(path.name, path, shape=(1, 3), check=check)


BUILDERS: tuple[Callable[[Path], Case], ...] = (
    text_as_png,
    empty_file,
    truncated_jpeg,
    truncated_png,
    bomb_real,
    bomb_header,
    over_byte_limit,
    svg,
    tga,
    ico,
    float_tiff_out_of_range,
    large_photo,
    animated_gif,
    palette_transparent,
    rgba,
    la,
    grey_16_bit,
    cmyk_jpeg,
    exif_orientation(3),
    exif_orientation(6),
    exif_orientation(8),
    one_pixel,
    eight_by_eight,
    strip(3, 4000),
    strip(4000, 3),
    over_upload_limit_bmp,
    png_named_jpg,
    float_tiff_unit_range,
)
NAMES = tuple(builder.__name__ for builder in BUILDERS)


def build(folder: Path) -> dict[str, Case]:
    """Writes every corpus file into `folder`; returns the cases by builder name."""
    folder.mkdir(parents=True, exist_ok=True)
    return {builder.__name__: builder(folder) for builder in BUILDERS}
