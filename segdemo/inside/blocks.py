"""The lecture's building blocks: Conv2D, UpSampling2D, Conv2DTranspose, MaxPooling2D and a
dilated convolution on a tiny image, computed by the real Keras layers with the weights set by
hand (the "Building blocks" view).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from segdemo import render, runtime
from segdemo.inside.pictures import side_by_side

OPERATIONS = ("conv_stride2", "upsample_nearest", "upsample_bilinear", "transposed_stride2", "max_pool", "dilated_conv")
EXAMPLE_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)
"""The default 3×3 kernel of the playground (a binomial blur); not a kernel from the lecture."""
EXAMPLE_IMAGE = np.array([[1, 2, 0, 1], [0, 3, 1, 2], [2, 1, 4, 0], [1, 0, 2, 3]], np.float32)
MAX_BLOCK_SIDE = 12


def _as_grid(values, what: str, max_side: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} must be a table of numbers.") from None
    if array.ndim != 2 or min(array.shape) < 1 or max(array.shape) > max_side:
        raise ValueError(f"The {what} must be a table of numbers with 1 to {max_side} rows and columns; got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"The {what} holds a value that is not a number.")
    return array


def building_block(image, operation: str, kernel=None, padding: str = "same") -> np.ndarray:
    """One of the lecture's building blocks on a tiny one-channel image, by the real Keras layer.

    Args:
        image: a small 2-D table of numbers (at most 12×12).
        operation: one of `OPERATIONS`: "conv_stride2" (Conv2D 3×3, stride 2), "upsample_nearest"
            and "upsample_bilinear" (UpSampling2D ×2), "transposed_stride2" (Conv2DTranspose 3×3,
            stride 2), "max_pool" (MaxPooling2D 2×2), "dilated_conv" (Conv2D 3×3, dilation 2).
        kernel: the 3×3 kernel of the convolutions (default `EXAMPLE_KERNEL`); no bias.
        padding: "same" or "valid" for the convolutions and the pooling.

    Returns:
        The output as a 2-D float32 array.

    Raises:
        ValueError: unknown operation or padding, a table that is not numbers or too large,
            an image too small for a 'valid' operation.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"Unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}.")
    if padding not in ("same", "valid"):
        raise ValueError(f"Padding is 'same' or 'valid', got {padding!r}.")
    pixels = _as_grid(image, "image", MAX_BLOCK_SIDE)
    weights = _as_grid(EXAMPLE_KERNEL if kernel is None else kernel, "kernel", 3)
    if weights.shape != (3, 3):
        raise ValueError(f"The kernel must be 3×3; got {weights.shape[0]}×{weights.shape[1]}.")
    needed = {"conv_stride2": 3, "dilated_conv": 5, "max_pool": 2}.get(operation, 1)
    if padding == "valid" and min(pixels.shape) < needed:
        raise ValueError(f"With 'valid' padding this operation needs an image of at least {needed}×{needed}.")
    # Every check above runs before TensorFlow is imported: a wrong table is answered at once.
    runtime.import_tensorflow()
    import keras

    kernel4 = weights[:, :, None, None]
    if operation == "conv_stride2":
        layer = keras.layers.Conv2D(1, 3, strides=2, padding=padding, use_bias=False)
    elif operation == "dilated_conv":
        layer = keras.layers.Conv2D(1, 3, dilation_rate=2, padding=padding, use_bias=False)
    elif operation == "transposed_stride2":
        layer = keras.layers.Conv2DTranspose(1, 3, strides=2, padding=padding, use_bias=False)
    elif operation == "max_pool":
        layer = keras.layers.MaxPooling2D(2, padding=padding)
    else:
        layer = keras.layers.UpSampling2D(2, interpolation=operation.split("_")[1])
    batch = pixels[None, :, :, None]
    layer.build(batch.shape)
    if layer.weights:
        layer.set_weights([kernel4])
    return np.asarray(layer(batch))[0, :, :, 0]


def number_table(values: np.ndarray, title: str, cell: int = 44) -> np.ndarray:
    """A 2-D array drawn as a table: each cell shaded by its value and its number written in it."""
    values = np.asarray(values, np.float32)
    rows, columns = values.shape
    low, high = float(values.min()), float(values.max())
    header = 26
    canvas = Image.new("RGB", (columns * cell + 2, header + rows * cell + 2), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((2, 4), title, fill="black", font=render.font(14))
    for row in range(rows):
        for column in range(columns):
            value = float(values[row, column])
            shade = 255 if high - low < 1e-12 else round(255 - 190 * (value - low) / (high - low))
            box = [column * cell + 1, header + row * cell + 1, (column + 1) * cell, header + (row + 1) * cell]
            draw.rectangle(box, fill=(shade, shade, 255), outline=(150, 150, 150))
            text = f"{value:.3g}" if abs(value - round(value)) > 1e-6 else str(round(value))
            draw.text((box[0] + 4, box[1] + cell // 2 - 8), text, fill="black", font=render.font(13 if len(text) < 5 else 10))
    return np.asarray(canvas)


def building_block_picture(image, operation: str, kernel=None, padding: str = "same") -> tuple[np.ndarray, np.ndarray]:
    """(picture, output): input, kernel (for the convolutions) and output as number tables,
    with the input and output also as grey pictures below, side by side."""
    pixels = _as_grid(image, "image", MAX_BLOCK_SIDE)
    output = building_block(pixels, operation, kernel, padding)
    tables = [number_table(pixels, f"input {pixels.shape[0]}×{pixels.shape[1]}")]
    if operation in ("conv_stride2", "transposed_stride2", "dilated_conv"):
        tables.append(number_table(EXAMPLE_KERNEL if kernel is None else _as_grid(kernel, "kernel", 3), "kernel 3×3"))
    tables.append(number_table(output, f"{operation} → {output.shape[0]}×{output.shape[1]}"))
    top = side_by_side(tables, gap=16)
    scale = 24
    low = min(float(pixels.min()), float(output.min()))
    high = max(float(pixels.max()), float(output.max()), low + 1e-6)
    pictures = [render.panel(render.grey((array - low) / (high - low)), scale * max(array.shape)) for array in (pixels, output)]
    bottom = side_by_side([np.asarray(picture) for picture in pictures], gap=16)
    width = max(top.shape[1], bottom.shape[1])
    padded = [np.pad(part, ((0, 8), (0, width - part.shape[1]), (0, 0)), constant_values=255) for part in (top, bottom)]
    return np.vstack(padded), output
