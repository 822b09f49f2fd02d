"""Maps that teach: error, confidence and disagreement maps, live legends, per-pixel class
probabilities and downloadable results, all computed from a model's cached outputs.

Everything here works on numpy arrays (and, for the class probabilities of a PSPNet, on the
cached raw network output run through the rest of the same network, `LoadedModel.tail`), so a
new threshold, opacity or highlighted class re-renders without running a network again.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from segdemo import render
from segdemo.output_cache import CachedOutput
from segdemo.registry import BINARY, ModelSpec
from segdemo.render import UNLABELLED, UNLABELLED_NAME

# Okabe–Ito colours: told apart by readers with the common colour-vision deficiencies.
TRUE_POSITIVE, FALSE_POSITIVE, FALSE_NEGATIVE, BOUNDARY_ERROR = 0, 1, 2, 3
ERROR_CLASSES = ("true positive", "false positive", "false negative", "wrong on a boundary")
ERROR_PALETTE = ((0, 158, 115), (213, 94, 0), (0, 114, 178), (240, 228, 66))
DISAGREEMENT_COLOUR = (204, 121, 167)
UNLABELLED_COLOUR = (255, 255, 255)
FADED = 0.15
"""A class that is not highlighted keeps this share of the overlay opacity."""
LABEL_PNG_UNLABELLED = 255
"""The value of an unlabelled pixel (below the threshold) in the 8-bit label PNG."""


@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend.

    Attributes:
        index: the class index (-1: unlabelled; error maps: TRUE_POSITIVE ... BOUNDARY_ERROR).
        name: the class name (English unless the caller passed other names).
        colour: RGB.
        fraction: share of the image's pixels.
        mean_confidence: mean top-class probability (multi-class) or foreground score distance
            from the threshold (binary) over the class's pixels; None where it means nothing.
    """

    index: int
    name: str
    colour: tuple[int, int, int]
    fraction: float
    mean_confidence: float | None = None

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.colour)


@dataclass(frozen=True)
class ErrorMap:
    """An error map: the picture, its legend and the pixel counts per kind of error."""

    image: np.ndarray
    legend: tuple[LegendEntry, ...]
    counts: dict[str, int]


def _check_same_shape(*arrays: np.ndarray) -> None:
    shapes = {np.shape(array)[:2] for array in arrays}
    if len(shapes) != 1:
        raise ValueError(f"The maps must have the same height and width, got {', '.join(str(s) for s in sorted(shapes))}.")


def _dimmed(base_rgb: np.ndarray | None, shape: tuple[int, int], level: float = 0.35) -> np.ndarray:
    """The image in dim grey (so colours stand out and the structure stays visible), or black."""
    if base_rgb is None:
        return np.zeros((*shape, 3), np.uint8)
    grey = base_rgb.astype(np.float32).mean(axis=-1) if base_rgb.ndim == 3 else base_rgb.astype(np.float32)
    grey = np.rint(grey * level).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


# ---------------------------------------------------------------- overlays and legends


# Rows per strip of `overlay`: its two index arrays take 16 bytes a pixel of a strip, 4 MB for a
# 4000-pixel-wide photo at 64 rows (16 MB at 256 rows, and slower: 0.13 against 0.10 s a 12 MP overlay).
OVERLAY_STRIP_ROWS = 64


def overlay(
    image_rgb: np.ndarray,
    labels: np.ndarray,
    palette: Sequence[Sequence[int]],
    opacity: float = 0.5,
    skip_background: bool = False,
    highlight: int | None = None,
    faded: float = FADED,
) -> np.ndarray:
    """Blends each labelled pixel with its class colour, with one lookup per pixel.

    Gives the same pixels as `segdemo.render.overlay` (same float32 arithmetic), much faster: every
    pixel's result is read from a small table of (class, value, channel) results computed once,
    instead of boolean indexing per class, a strip of rows at a time (0.10 s against 1.09 s for the
    earlier per-pixel float32 version of this function on a 12 MP photo, in the round that made it).

    Args:
        image_rgb: uint8 H×W×3.
        labels: int H×W; -1 stays unpainted.
        palette: one RGB colour per class.
        opacity: 0 shows the image only, 1 the colours only.
        skip_background: leave class 0 unpainted (binary models paint only the foreground).
        highlight: a class index to show at `opacity` while every other class fades to
            `faded` × opacity; None paints every class alike.
        faded: see `highlight`.
    """
    colours = np.asarray(palette, dtype=np.float32).reshape(-1, 3)
    classes = len(colours)
    # Per-class weight of the colour; slot 0 is "unlabelled" (-1), never painted. Kept in double
    # until the end so the image's share is float32(1 - opacity), as render.overlay computes it.
    weights = np.full(classes + 1, float(opacity))
    weights[0] = 0.0
    if skip_background:
        weights[1] = 0.0
    if highlight is not None:
        if not 0 <= highlight < classes:
            raise ValueError(f"No class {highlight} to highlight: the classes are 0..{classes - 1}.")
        faded_classes = weights > 0
        faded_classes[highlight + 1] = False
        weights[faded_classes] = float(opacity) * faded
    keep_image = (1.0 - weights).astype(np.float32)
    colour_lut = np.vstack([np.zeros((1, 3), np.float32), colours]) * weights.astype(np.float32)[:, None]
    # Every output value is rint(value * keep + colour) for one of 256 values and one class slot:
    # the same float32 arithmetic done once per (slot, value, channel) in a small table, then one
    # gather per channel (4× faster than computing per pixel on a 12 MP photo, the same bytes).
    table = np.arange(256, dtype=np.float32)[None, :, None] * keep_image[:, None, None]
    table = table + colour_lut[:, None, :]
    table = np.rint(table, out=table).astype(np.uint8)
    channel_tables = [np.ascontiguousarray(table[:, :, channel]).ravel() for channel in range(3)]
    result = np.empty(image_rgb.shape, np.uint8)
    # In strips of rows (OVERLAY_STRIP_ROWS): the index arrays stay small, faster on a 12 MP photo
    # than the whole image at once (0.10 s against 0.45 s when strips came in) and 200 MB less at the
    # peak; the same bytes.
    for top in range(0, labels.shape[0], OVERLAY_STRIP_ROWS):
        strip = slice(top, top + OVERLAY_STRIP_ROWS)
        rows = (np.clip(labels[strip], -1, classes - 1).astype(np.intp) + 1) * 256
        for channel in range(3):
            np.take(channel_tables[channel], rows + image_rgb[strip, :, channel], out=result[strip, :, channel])
    return result


def legend_entries(
    labels: np.ndarray,
    confidence: np.ndarray | None,
    classes: Sequence[str],
    palette: Sequence[Sequence[int]],
    names: dict[str, str] | None = None,
    skip: Sequence[int] = (),
) -> list[LegendEntry]:
    """Legend data per class present: name, colour, area share and mean confidence, largest first.

    Args:
        labels: int H×W class indices; -1 counts as "unlabelled".
        confidence: float H×W in [0, 1] (e.g. the top-class probability), or None.
        classes: class names in index order.
        palette: one RGB colour per class.
        names: English class name -> the name to show (e.g. Portuguese).
        skip: class indices left out of the legend (they still count in the total).
    """
    if confidence is not None:
        _check_same_shape(labels, confidence)
    names = names or {}
    if labels.size and (labels.min() < UNLABELLED or labels.max() >= len(classes)):
        raise ValueError(f"Labels must lie in -1..{len(classes) - 1}, got {labels.min()}..{labels.max()}.")
    counts, sums = render.class_counts(labels, len(classes) + 1, confidence)
    total = max(int(labels.size), 1)
    entries = []
    for slot in np.flatnonzero(counts):
        index = int(slot) - 1
        if index in skip:
            continue
        name = UNLABELLED_NAME if index == UNLABELLED else classes[index]
        colour = UNLABELLED_COLOUR if index == UNLABELLED else tuple(int(c) for c in palette[index])
        mean = None if sums is None else float(sums[slot] / counts[slot])
        entries.append(LegendEntry(index, names.get(name, name), colour, float(counts[slot] / total), mean))
    entries.sort(key=lambda entry: (-entry.fraction, entry.index))
    return entries


# ---------------------------------------------------------------- error maps


def boundary_pixels(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3×3 neighbourhood holds both classes of a binary mask (as bench.membrane_errors)."""
    kernel = np.ones((3, 3), np.uint8)
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    return cv2.dilate(binary, kernel) != cv2.erode(binary, kernel)


def error_map(labels: np.ndarray, truth: np.ndarray, base_rgb: np.ndarray | None = None, boundaries: bool = False) -> ErrorMap:
    """True positives, false positives and false negatives of a binary result, in three colours.

    Args:
        labels: H×W, foreground where > 0 (the model's positive class: the object, or the membrane).
        truth: H×W, foreground where > 0, in the same convention as `labels`.
        base_rgb: the input image, shown dimmed under the colours; None: black.
        boundaries: also mark the wrong pixels that lie on a boundary of the truth (their 3×3
            neighbourhood holds both classes) in a fourth colour: for membranes one or two pixels
            wide, most errors are there. Their counts stay in "false positive"/"false negative" too.

    Raises:
        ValueError: the maps have different sizes.
    """
    _check_same_shape(labels, truth)
    predicted = np.asarray(labels) > 0
    actual = np.asarray(truth) > 0
    kinds = {
        TRUE_POSITIVE: predicted & actual,
        FALSE_POSITIVE: predicted & ~actual,
        FALSE_NEGATIVE: ~predicted & actual,
    }
    if boundaries:
        kinds[BOUNDARY_ERROR] = (predicted != actual) & boundary_pixels(actual)
    image = _dimmed(base_rgb, predicted.shape)
    for kind, where in kinds.items():  # boundary errors last: drawn over FP/FN
        image[where] = ERROR_PALETTE[kind]
    total = max(predicted.size, 1)
    counts = {ERROR_CLASSES[kind]: int(where.sum()) for kind, where in kinds.items()}
    legend = tuple(
        LegendEntry(kind, ERROR_CLASSES[kind], ERROR_PALETTE[kind], counts[ERROR_CLASSES[kind]] / total) for kind in kinds
    )
    return ErrorMap(image, legend, counts)


# ---------------------------------------------------------------- confidence


def binary_confidence(scores: np.ndarray, threshold: float) -> np.ndarray:
    """How far each binary score is from the threshold, scaled to [0, 1] (1: as far as it can be,
    0: on the threshold, where the label could go either way)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"The threshold must be in [0, 1], got {threshold}.")
    reach = max(threshold, 1.0 - threshold)
    return (np.abs(np.asarray(scores, np.float32) - np.float32(threshold)) / np.float32(reach)).astype(np.float32)


def normalised_entropy(probabilities: np.ndarray) -> np.ndarray:
    """The entropy of the class probabilities along the last axis, divided by log(classes):
    0 where one class has all the probability, 1 where every class is equally likely."""
    classes = probabilities.shape[-1]
    if classes < 2:
        raise ValueError("Entropy needs at least two classes.")
    p = np.clip(probabilities.astype(np.float32), 1e-12, 1.0)
    return (-(p * np.log(p)).sum(axis=-1) / np.float32(math.log(classes))).clip(0.0, 1.0).astype(np.float32)


def class_probabilities(spec: ModelSpec, pipeline: str | None, outputs: CachedOutput) -> np.ndarray:
    """A PSPNet's class probabilities over the part of the network's output that covers the image
    (valid_height × valid_width × classes), from the cached raw output: the rest of the same
    network (resize and softmax) runs, not the network itself."""
    from segdemo import runtime

    if spec.task == BINARY:
        raise ValueError(f"{spec.key} is a binary model: its foreground score is its only probability.")
    loaded = runtime.get(spec.key, pipeline)
    full = loaded.tail(outputs.raw)
    return full[0, : outputs.valid[0], : outputs.valid[1]]


def entropy_map(spec: ModelSpec, pipeline: str | None, outputs: CachedOutput) -> np.ndarray:
    """Normalised entropy of a PSPNet's class probabilities, at the image's resolution."""
    entropy = normalised_entropy(class_probabilities(spec, pipeline, outputs))
    height, width = outputs.image_size
    return cv2.resize(entropy, (width, height), interpolation=cv2.INTER_LINEAR)


def colour_scale(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as an RGB image on the viridis scale (dark blue: 0, yellow: 1)."""
    levels = np.rint(np.clip(np.asarray(values, np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)[..., ::-1].copy()


# ---------------------------------------------------------------- disagreement


def disagreement(label_maps: Sequence[np.ndarray]) -> np.ndarray:
    """True where the models' labels are not all the same (at least two maps of one size)."""
    if len(label_maps) < 2:
        raise ValueError("A disagreement map needs the labels of at least two models.")
    _check_same_shape(*label_maps)
    first = np.asarray(label_maps[0])
    differs = np.zeros(first.shape[:2], bool)
    for other in label_maps[1:]:
        differs |= np.asarray(other) != first
    return differs


def disagreement_image(differs: np.ndarray, base_rgb: np.ndarray | None = None) -> np.ndarray:
    """The disagreement pixels in one colour over the dimmed image."""
    image = _dimmed(base_rgb, differs.shape)
    image[differs] = DISAGREEMENT_COLOUR
    return image


# ---------------------------------------------------------------- a pixel's classes


def network_position(x: float, y: float, image_size: tuple[int, int], valid: tuple[int, int]) -> tuple[float, float]:
    """Where the centre of image pixel (x, y) falls in the network's output (pixel centres, as
    cv2.resize maps them): the image covers the output's top-left valid[0] × valid[1] pixels."""
    height, width = image_size
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"The pixel ({x}, {y}) is outside the {width}×{height} image.")
    return (x + 0.5) * valid[1] / width - 0.5, (y + 0.5) * valid[0] / height - 0.5


def probabilities_at(probabilities: np.ndarray, column: float, row: float, bilinear: bool = True) -> np.ndarray:
    """The class probabilities at a (fractional) position of an H×W×C map: bilinear between the
    four nearest pixels, or the nearest pixel's."""
    height, width = probabilities.shape[:2]
    column = min(max(column, 0.0), width - 1.0)
    row = min(max(row, 0.0), height - 1.0)
    if not bilinear:
        return probabilities[round(row), round(column)].astype(np.float32)
    left, top = math.floor(column), math.floor(row)
    right, bottom = min(left + 1, width - 1), min(top + 1, height - 1)
    dx, dy = column - left, row - top
    upper = (1 - dx) * probabilities[top, left] + dx * probabilities[top, right]
    lower = (1 - dx) * probabilities[bottom, left] + dx * probabilities[bottom, right]
    return ((1 - dy) * upper + dy * lower).astype(np.float32)


def top_classes(probabilities: np.ndarray, classes: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
    """The k most probable classes and their probabilities, most probable first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(classes[index], float(probabilities[index])) for index in order]


def pixel_classes(
    spec: ModelSpec, pipeline: str | None, outputs: CachedOutput, x: int, y: int, k: int = 3
) -> list[tuple[str, float]]:
    """The top-k classes and their probabilities at image pixel (x, y), from the cached output.

    Binary models: the foreground score and its complement, read at the pixel. PSPNets: the
    class probabilities at the network's resolution, read where the pixel falls (bilinear, with
    cv2's pixel centres, for the pipeline that upsamples probabilities before the argmax; cv2's
    nearest neighbour for the one that enlarges labels), so the first class is the one the
    labels show there.

    Raises:
        ValueError: the pixel lies outside the image.
    """
    height, width = outputs.image_size
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"The pixel ({x}, {y}) is outside the {width}×{height} image.")
    if spec.task == BINARY:
        score = float(outputs.dense.scores[int(y), int(x)])
        return top_classes(np.array([1.0 - score, score], np.float32), spec.classes, min(k, 2))
    chosen = spec.pipeline(pipeline)
    probabilities = class_probabilities(spec, chosen.name, outputs)
    if chosen.upsample_probabilities:
        column, row = network_position(x, y, outputs.image_size, outputs.valid)
        return top_classes(probabilities_at(probabilities, column, row), spec.classes, k)
    # Labels enlarged with cv2's nearest neighbour: output pixel floor(x · valid / size).
    row, column = (min(int(p * v // s), v - 1) for p, v, s in ((y, outputs.valid[0], height), (x, outputs.valid[1], width)))
    return top_classes(probabilities[row, column], spec.classes, k)


# ---------------------------------------------------------------- downloads


def png_bytes(pixels: np.ndarray, compress_level: int = 6) -> bytes:
    """An image array as PNG bytes.

    Args:
        compress_level: zlib's level, 0-9 (Pillow's default 6; 1 is about 5x faster for photos).
    """
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def jpeg_bytes(pixels: np.ndarray, quality: int = 90) -> bytes:
    """An RGB image array as JPEG bytes: for pictures to look at (an overlay on a photo), not for
    label maps. A 12-megapixel overlay takes about 0.1 s and 1.5 MB, against 0.9 s and 13 MB as a
    PNG at zlib's fastest level."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def label_png(labels: np.ndarray) -> bytes:
    """The label map as an 8-bit grey PNG: each pixel holds its class index; unlabelled pixels
    (below the threshold) hold `LABEL_PNG_UNLABELLED` (255).

    Raises:
        ValueError: a class index that does not fit (more than 255 classes).
    """
    labels = np.asarray(labels)
    if labels.size and (labels.max() >= LABEL_PNG_UNLABELLED or labels.min() < UNLABELLED):
        raise ValueError(f"Class indices must lie in -1..{LABEL_PNG_UNLABELLED - 1} for an 8-bit label PNG.")
    return png_bytes(np.where(labels == UNLABELLED, LABEL_PNG_UNLABELLED, labels).astype(np.uint8))


def summary(prediction, threshold: float | None = None, legend: Sequence[LegendEntry] = ()) -> dict:
    """A JSON-ready summary of a `Prediction`: model, pipeline, class fractions, seconds, size,
    and, when given, the threshold and the legend's mean confidence per class."""
    result = prediction.summary()
    if threshold is not None:
        result["threshold"] = float(threshold)
    if legend:
        result["mean_confidence"] = {
            entry.name: round(entry.mean_confidence, 6) for entry in legend if entry.mean_confidence is not None
        }
    result["label_png_unlabelled_value"] = LABEL_PNG_UNLABELLED
    return result


def summary_json(prediction, threshold: float | None = None, legend: Sequence[LegendEntry] = ()) -> str:
    return json.dumps(summary(prediction, threshold, legend), indent=2, ensure_ascii=False)
