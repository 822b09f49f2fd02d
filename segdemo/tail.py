"""The weightless end of a PSPNet (bilinear resize, then softmax) in NumPy, without TensorFlow.

A PSPNet's output is split at `conv6` (class scores at 1/8 of the input, small enough to cache);
the rest of the network has no weights: `conv6_interp` (Caffe's `Interp`, a bilinear resize to
the input's size) and a softmax. Run in TensorFlow, that rest makes two full-size maps, the
resized scores and the probabilities (2 × 134 MB for ADE20K's 150 classes at 473 × 473). Here the
resize is two matrix products and the softmax works in place, row strips at a time: one
full-size map, the same numbers to float32 rounding (`tests/test_tail.py` compares with the
Keras layers). It is slower than TensorFlow's two threads by 17–50 ms a photo (docs/performance.md).

`from_configs` takes the layers as `keras.saving.serialize_keras_object` writes them (what the
engines' cache keeps in `tail.json`) and returns None for any layer it does not know, so the
caller falls back to the Keras layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SOFTMAX_STRIP_ROWS = 32
"""Rows of the resized map turned into probabilities at a time: the temporaries (the maximum and
the sum per pixel) stay small."""


def resize_weights(in_size: int, out_size: int, align_corners: bool) -> np.ndarray:
    """The (out_size, in_size) matrix of bilinear interpolation along one axis, as TensorFlow's
    `resize_bilinear` computes it.

    Args:
        in_size: the input's length along the axis.
        out_size: the output's length.
        align_corners: True: the first and last samples of input and output coincide (Caffe's
            `Interp`, `tf.compat.v1.image.resize(..., align_corners=True)`); False: half-pixel
            centres (`tf.image.resize`).
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} → {out_size}.")
    # In float32, as TensorFlow computes the sampling positions: its interpolation fractions, to the bit.
    out = np.arange(out_size, dtype=np.float32)
    if align_corners:
        scale = np.float32((in_size - 1) / (out_size - 1)) if out_size > 1 else np.float32(in_size / out_size)
        source = out * scale
    else:
        source = (out + np.float32(0.5)) * np.float32(in_size / out_size) - np.float32(0.5)
    lower = np.floor(source)
    fraction = source - lower
    low = np.clip(lower, 0, in_size - 1).astype(np.int64)
    high = np.clip(lower + 1, 0, in_size - 1).astype(np.int64)
    weights = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    np.add.at(weights, (rows, low), 1.0 - fraction)
    np.add.at(weights, (rows, high), fraction)
    return weights


def bilinear_resize(scores: np.ndarray, size: tuple[int, int], align_corners: bool) -> np.ndarray:
    """Resizes (1, h, w, C) float32 scores to (1, H, W, C) bilinearly.

    Args:
        scores: the network's raw output for one image.
        size: the output's (height, width).
        align_corners: see `resize_weights`.
    """
    if scores.ndim != 4 or scores.shape[0] != 1:
        raise ValueError(f"expected one image shaped (1, h, w, C), got {scores.shape}.")
    _, height, width, channels = scores.shape
    rows = resize_weights(height, size[0], align_corners)
    cols = resize_weights(width, size[1], align_corners)
    # Columns first, on the small map: (W, w) @ each of its h rows (w, C) gives (h, W, C); then one
    # matrix product (H, h) @ (h, W·C) writes the full map once, already in its final layout.
    by_cols = np.matmul(cols, scores[0])
    return (rows @ by_cols.reshape(height, size[1] * channels)).reshape(1, size[0], size[1], channels)


def softmax_in_place(scores: np.ndarray, strip_rows: int = SOFTMAX_STRIP_ROWS) -> np.ndarray:
    """Turns (1, H, W, C) scores into probabilities over the last axis, in place, and returns them."""
    for top in range(0, scores.shape[1], strip_rows):
        strip = scores[0, top : top + strip_rows]
        strip -= strip.max(axis=-1, keepdims=True)
        np.exp(strip, out=strip)
        strip /= strip.sum(axis=-1, keepdims=True)
    return scores


def _layer(config: dict) -> Callable[[np.ndarray], np.ndarray] | None:
    """One serialized layer as a NumPy function, or None when it is not one this module runs."""
    name = config.get("class_name")
    options = config.get("config") or {}
    if name == "BilinearResize":
        size = tuple(int(side) for side in options["size"])
        align_corners = bool(options.get("align_corners", False))
        return lambda scores: bilinear_resize(scores, size, align_corners)
    if name == "Softmax" and options.get("axis", -1) in (-1, 3, [-1], [3]):
        return softmax_in_place
    return None


def from_configs(configs: Sequence[dict]) -> Callable[[np.ndarray], np.ndarray] | None:
    """The layers after a raw output as one NumPy function (raw float32 → output), or None when
    any of them is not a bilinear resize or a softmax over the classes.

    Args:
        configs: the layers in order, as `keras.saving.serialize_keras_object` writes them.
    """
    steps = [_layer(config) for config in configs]
    if not steps or any(step is None for step in steps):
        return None

    def run(raw: np.ndarray) -> np.ndarray:
        # Never in place on the caller's array (the output cache keeps the raw scores): a resize
        # makes a new one; a softmax without a resize before it works on a copy.
        output = (
            np.array(raw, dtype=np.float32, copy=True) if steps[0] is softmax_in_place else raw.astype(np.float32, copy=False)
        )
        for step in steps:
            output = step(output)
        return output

    return run
