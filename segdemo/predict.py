"""`predict()`: check the input → preprocess → run → postprocess → `Prediction`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from segdemo import images, preprocess, registry, render, runtime
from segdemo.registry import BINARY, ModelSpec

# Fully convolutional models run at the image's size; beyond this side the image is
# downscaled first (results are scaled back), so a phone photo cannot stall the server.
MAX_FULLY_CONVOLUTIONAL_SIDE = 1024
# Multi-class probabilities are upsampled to at most this side (then labels are enlarged
# by nearest neighbour), and in groups of channels, so 150 ADE20K classes fit in memory.
MAX_PROBABILITY_SIDE = 1024
CHANNEL_GROUP = 32


@dataclass(frozen=True)
class Prediction:
    """The result of one model on one image, at the image's resolution.

    Attributes:
        model: the registry key.
        labels: int32 H×W; binary models 0/1 (1 = foreground), multi-class models the class
            index, or -1 where the top-class probability is below the threshold.
        scores: float32 H×W in [0, 1]: the foreground score (binary) or the top-class
            probability (multi-class).
        overlay: uint8 H×W×3: the image with the labels painted on it.
        class_fractions: class name -> fraction of pixels.
        seconds: time taken by preprocessing, the network and postprocessing.
        raw: float32 H×W, the network's own grey output (for membrane models: cells white,
            membranes dark, as the lecture shows it).
        classes: the class names, in label order.
        palette: one RGB colour per class.
    """

    model: str
    labels: np.ndarray
    scores: np.ndarray
    overlay: np.ndarray
    class_fractions: dict[str, float]
    seconds: float
    raw: np.ndarray
    classes: tuple[str, ...] = field(default=())
    palette: tuple[tuple[int, int, int], ...] = field(default=())

    def summary(self) -> dict:
        """A JSON-ready summary: model, class fractions, seconds, image size."""
        return {
            "model": self.model,
            "class_fractions": {name: round(value, 6) for name, value in self.class_fractions.items()},
            "seconds": round(self.seconds, 4),
            "height": int(self.labels.shape[0]),
            "width": int(self.labels.shape[1]),
        }


def check_threshold(threshold, spec: ModelSpec) -> float:
    """The threshold as a float in [0, 1] (None → the model's default), or a ValueError."""
    if threshold is None:
        return spec.default_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ValueError(f"The threshold must be a number in [0, 1], got {threshold!r}.")
    value = float(threshold)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"The threshold must be in [0, 1], got {value}.")
    return value


def predict(image, model: str, threshold: float | None = None, *, pipeline: str = "original", opacity: float = 0.5) -> Prediction:
    """Segments `image` with the registry model `model`.

    Args:
        image: a file path, a PIL image or a numpy array (see `segdemo.images`).
        model: a registry key, e.g. "unet".
        threshold: in [0, 1]; binary models mark a pixel as foreground when its score is
            >= threshold; None uses the model's default (0.5, as the lecture).
        pipeline: for PSPNet, "original" (the Caffe pre/postprocessing the weights were
            trained with) or "keras_segmentation" (what the lecture's library does).
        opacity: of the overlay colours, in [0, 1].

    Raises:
        ValueError: unknown model, bad threshold, or an image that cannot be used; a
            `WeightsMissingError` (a ValueError) when the model's weights are missing.
    """
    spec = registry.get(model)
    threshold = check_threshold(threshold, spec)
    if spec.pipelines and pipeline not in spec.pipelines:
        raise ValueError(f"Unknown pipeline {pipeline!r}; choose one of {', '.join(spec.pipelines)}.")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"The overlay opacity must be in [0, 1], got {opacity}.")
    pixels = images.load(image)
    started = time.perf_counter()
    if spec.task == BINARY:
        raw = _binary_output(spec, pixels)
        scores = (1.0 - raw) if spec.invert_output else raw
        labels = (scores >= threshold).astype(np.int32)
    else:
        labels, scores = _multiclass_output(spec, pixels, pipeline)
        labels[scores < threshold] = render.UNLABELLED
        raw = scores
    fractions = render.class_fractions(labels, spec.classes)
    overlay = render.overlay(images.to_rgb(pixels), labels, spec.palette, opacity, skip_background=spec.task == BINARY)
    seconds = time.perf_counter() - started
    return Prediction(
        model=spec.key,
        labels=labels,
        scores=scores.astype(np.float32),
        overlay=overlay,
        class_fractions=fractions,
        seconds=seconds,
        raw=raw.astype(np.float32),
        classes=spec.classes,
        palette=spec.palette,
    )


def _network_input(spec: ModelSpec, pixels: np.ndarray) -> np.ndarray:
    """The image in the network's colour mode, as float32 in [0, 1] with a channel axis."""
    if spec.color_mode == "gray":
        return (images.to_gray(pixels).astype(np.float32) / 255.0)[..., None]
    return images.to_rgb(pixels).astype(np.float32) / 255.0


def _binary_output(spec: ModelSpec, pixels: np.ndarray) -> np.ndarray:
    """The network's grey output in [0, 1], at the image's resolution."""
    loaded = runtime.get(spec.key)
    x = _network_input(spec, pixels)
    height, width = x.shape[:2]
    if spec.fully_convolutional:
        scale = min(1.0, MAX_FULLY_CONVOLUTIONAL_SIDE / max(height, width))
        if scale < 1.0:
            x = _resize(x, (max(1, round(height * scale)), max(1, round(width * scale))), cv2.INTER_AREA)
        padded = preprocess.pad_to_multiple(x, spec.size_multiple)
        output = loaded(padded[None])[0, : x.shape[0], : x.shape[1], 0]
    else:
        # As lecture program 8: resize to the network's input with INTER_AREA, run, resize back.
        output = loaded(_resize(x, spec.input_size, cv2.INTER_AREA)[None])[0, ..., 0]
    if output.shape != (height, width):
        output = _resize(output, (height, width), cv2.INTER_LINEAR)
    return np.clip(output, 0.0, 1.0)


def _resize(array: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """Resizes H×W or H×W×C to (height, width), keeping a trailing channel axis of 1."""
    resized = cv2.resize(array, (size[1], size[0]), interpolation=interpolation)
    return resized[..., None] if array.ndim == 3 and resized.ndim == 2 else resized


def _multiclass_output(spec: ModelSpec, pixels: np.ndarray, pipeline: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, top-class probability) at the image's resolution, for a PSPNet."""
    loaded = runtime.get(spec.key, pipeline)  # first: it imports TensorFlow safely
    from segdemo.architectures.pspnet import MEAN_BGR

    size = spec.input_size[0]
    bgr = images.to_rgb(pixels)[..., ::-1].astype(np.float32)
    height, width = bgr.shape[:2]
    if pipeline == "keras_segmentation":
        # The lecture's library: stretch to the square input, subtract the BGR means, flip to
        # RGB order, take the argmax at network resolution, enlarge by nearest neighbour.
        network_input = (cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR) - np.float32(MEAN_BGR))[..., ::-1]
        probabilities = loaded(np.ascontiguousarray(network_input)[None])[0]
        labels = np.argmax(probabilities, axis=-1).astype(np.int32)
        scores = np.max(probabilities, axis=-1)
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        scores = cv2.resize(scores, (width, height), interpolation=cv2.INTER_NEAREST)
        return labels.astype(np.int32), scores.astype(np.float32)
    # The original (Caffe) pipeline: keep the aspect ratio, long side to the crop size, pad
    # with the mean (zero after subtraction), BGR order; upsample probabilities bilinearly
    # before the argmax.
    scale = size / max(height, width)
    inner = (max(1, round(height * scale)), max(1, round(width * scale)))
    network_input = np.zeros((size, size, 3), np.float32)
    network_input[: inner[0], : inner[1]] = cv2.resize(bgr, (inner[1], inner[0]), interpolation=cv2.INTER_LINEAR) - np.float32(MEAN_BGR)
    probabilities = loaded(network_input[None])[0, : inner[0], : inner[1]]
    work_scale = min(1.0, MAX_PROBABILITY_SIDE / max(height, width))
    work_size = (max(1, round(height * work_scale)), max(1, round(width * work_scale)))
    labels, scores = _upsampled_argmax(probabilities, work_size)
    if work_size != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        scores = cv2.resize(scores, (width, height), interpolation=cv2.INTER_LINEAR)
    return labels.astype(np.int32), scores.astype(np.float32)


def _upsampled_argmax(probabilities: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear upsampling of class probabilities, then argmax, a group of channels at a time."""
    best = np.full(size, -1.0, np.float32)
    labels = np.zeros(size, np.int32)
    for start in range(0, probabilities.shape[-1], CHANNEL_GROUP):
        group = np.ascontiguousarray(probabilities[..., start : start + CHANNEL_GROUP])
        resized = cv2.resize(group, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        if resized.ndim == 2:
            resized = resized[..., None]
        group_best = resized.max(axis=-1)
        better = group_best > best
        labels[better] = start + resized.argmax(axis=-1)[better]
        best[better] = group_best[better]
    return labels, best
