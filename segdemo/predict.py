"""`predict()`: check the input → preprocess → network → postprocess → render → `Prediction`.

The stages live in the model's pipeline object (`segdemo.pipelines`); the network's raw output
and the postprocessed maps are kept in a bounded cache (`segdemo.output_cache`), so a second
call on the same image and model with another threshold or opacity only re-renders.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from segdemo import images, maps, registry, render, runtime
from segdemo.output_cache import CACHE, CachedOutput, image_digest
from segdemo.registry import BINARY, ModelSpec


@dataclass(frozen=True)
class Prediction:
    """The result of one model on one image, at the image's resolution.

    Attributes:
        model: the registry key.
        labels: int32 H×W; binary models 0/1 (1 = foreground), multi-class models the class
            index, or -1 where the top-class probability is below the threshold.
        scores: float32 H×W in [0, 1]: the foreground score (binary) or the top-class
            probability (multi-class).
        (`labels` of a multi-class model at threshold 0, `scores` and `raw` are the output cache's
        own arrays, read-only: copy them to change them.)
        overlay: uint8 H×W×3: the image with the labels painted on it.
        class_fractions: class name -> fraction of pixels.
        seconds: time taken by preprocessing, the network and postprocessing.
        raw: float32 H×W, the network's own grey output (for membrane models: cells white,
            membranes dark, as the lecture shows it).
        classes: the class names, in label order.
        palette: one RGB colour per class.
        pipeline: the pipeline that ran.
        cached: the network outputs came from the output cache (no network ran).
        tta: the scores are the mean over the eight flips and 90° rotations of the image
            (test-time augmentation; membrane models only).
        engine: what computed the network's output: "TensorFlow float32", "OpenVINO int8", ...
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
    pipeline: str = ""
    cached: bool = False
    tta: bool = False
    engine: str = ""

    def summary(self) -> dict:
        """A JSON-ready summary: model, class fractions, seconds, image size (and `"tta": true`
        for a test-time augmented prediction)."""
        result = {
            "model": self.model,
            "pipeline": self.pipeline,
            "engine": self.engine,
            "class_fractions": {name: round(value, 6) for name, value in self.class_fractions.items()},
            "seconds": round(self.seconds, 4),
            "height": int(self.labels.shape[0]),
            "width": int(self.labels.shape[1]),
        }
        return {**result, "tta": True} if self.tta else result


def _check_fraction(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"The {what} must be a number in [0, 1], got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"The {what} must be in [0, 1], got {value}.")
    return value


def check_threshold(threshold, spec: ModelSpec) -> float:
    """The threshold as a float in [0, 1] (None → the model's default), or a ValueError."""
    if threshold is None:
        return spec.default_threshold
    return _check_fraction(threshold, "threshold")


def check_opacity(opacity) -> float:
    """The overlay opacity as a float in [0, 1], or a ValueError."""
    return _check_fraction(opacity, "overlay opacity")


# Families whose networks take test-time augmentation: square grey slices with no up or down
# in them (the membranes), where a rotated or mirrored slice is still a plausible slice.
TTA_FAMILIES = ("membrane",)
TTA_VIEWS = 8


def check_tta(tta, spec: ModelSpec) -> bool:
    """`tta` as a bool, or a ValueError when it is not one or the model does not take it."""
    if not isinstance(tta, (bool, np.bool_)):
        raise ValueError(f"tta must be True or False, got {tta!r}.")
    if tta and spec.family not in TTA_FAMILIES:
        raise ValueError(f"Test-time augmentation is for the membrane models only, not {spec.key}.")
    return bool(tta)


def symmetric_views(batch: np.ndarray) -> list[np.ndarray]:
    """The eight flips and 90° rotations of an (N, S, S, C) batch: rotations by 0–3 quarter turns,
    then the same of its mirror image (left to right)."""
    mirrored = batch[:, :, ::-1]
    return [np.ascontiguousarray(np.rot90(view, turns, axes=(1, 2))) for view in (batch, mirrored) for turns in range(4)]


def undo_views(outputs: list[np.ndarray]) -> list[np.ndarray]:
    """Each output of `symmetric_views`' inputs turned back to the original orientation."""
    restored = []
    for index, output in enumerate(outputs):
        view = np.rot90(output, -(index % 4), axes=(1, 2))
        restored.append(view[:, :, ::-1] if index >= 4 else view)
    return restored


def predict(
    image,
    model: str,
    threshold: float | None = None,
    *,
    pipeline: str | None = None,
    opacity: float = 0.5,
    tta: bool = False,
) -> Prediction:
    """Segments `image` with the registry model `model`.

    Args:
        image: a file path, a PIL image or a numpy array (see `segdemo.images`).
        model: a registry key, e.g. "unet".
        threshold: in [0, 1]; binary models mark a pixel as foreground when its score is
            >= threshold; multi-class models leave a pixel unlabelled (-1) when its top-class
            probability is below it; None uses the model's default (0.5, as the lecture).
        pipeline: the model's pre/postprocessing pipeline (None: its default). PSPNets have
            "original" (the Caffe pipeline the weights were trained with) and
            "keras_segmentation" (what the lecture's library does).
        opacity: of the overlay colours, in [0, 1].
        tta: test-time augmentation (membrane models): the network runs on the eight flips and
            90° rotations of its input, each output is turned back and the eight are averaged
            (about eight times the network's time).

    Raises:
        ValueError: unknown model or pipeline, bad threshold or opacity, `tta` for a model that
            does not take it, or an image that cannot be used; a `WeightsMissingError` (a
            ValueError) when the model's weights are missing.
    """
    spec = registry.get(model)
    threshold = check_threshold(threshold, spec)
    chosen = spec.pipeline(pipeline)
    opacity = check_opacity(opacity)
    tta = check_tta(tta, spec)
    pixels = images.load(image)
    started = time.perf_counter()
    outputs, cached = network_outputs(pixels, spec, chosen.name, tta=tta)
    return render_prediction(
        pixels, spec, outputs, threshold, opacity, started=started, cached=cached, pipeline=chosen.name, tta=tta
    )


def network_outputs(
    pixels: np.ndarray, spec: ModelSpec, pipeline: str | None = None, *, tta: bool = False
) -> tuple[CachedOutput, bool]:
    """The model's raw and postprocessed outputs for a canonical image, from the cache when
    they were computed before. Returns (outputs, whether they came from the cache).

    With `tta` the raw output is the mean of the eight symmetric views' outputs, turned back.
    """
    chosen = spec.pipeline(pipeline)
    tta = check_tta(tta, spec)
    loaded = runtime.get(spec.key, chosen.name)
    mode, run = loaded.runner()  # together: a background switch of engine cannot split them
    key = (image_digest(pixels), spec.key, chosen.name, mode.slug, loaded.serial, tta)
    cached = CACHE.get(key)
    if cached is not None:
        return cached, True
    kept = CACHE.get_raw(key)
    if kept is not None:  # the dense maps have left the cache; the network's output has not
        prepared = kept.prepared()
        dense = chosen.postprocess(loaded.tail(kept.raw), prepared)
        return CACHE.put(key, kept.raw, prepared, dense, kept.mode), True
    prepared = chosen.preprocess(pixels)
    if tta:
        raw = np.mean(undo_views([run(view) for view in symmetric_views(prepared.batch)]), axis=0)
    else:
        raw = run(prepared.batch)
    dense = chosen.postprocess(loaded.tail(raw), prepared)
    return CACHE.put(key, raw, prepared, dense, mode.label), False


def render_prediction(
    pixels: np.ndarray,
    spec: ModelSpec,
    outputs: CachedOutput,
    threshold: float,
    opacity: float,
    *,
    started: float | None = None,
    cached: bool = False,
    pipeline: str | None = None,
    tta: bool = False,
) -> Prediction:
    """The render stage: labels at the threshold, the overlay and the class areas."""
    dense = outputs.dense
    if spec.task == BINARY:
        labels = (dense.scores >= threshold).astype(np.int32)
    else:
        labels = dense.labels  # read-only (segdemo.output_cache): shared, not copied, when nothing changes
        if threshold > 0.0:  # scores are probabilities: nothing lies below 0
            labels = labels.astype(np.int32)  # a copy: the cached labels stay as they are
            labels[dense.scores < threshold] = render.UNLABELLED
    fractions = render.class_fractions(labels, spec.classes)
    # maps.overlay: render.overlay's pixels, fast enough to re-render a 1280×853 photo live.
    overlay = maps.overlay(images.to_rgb(pixels), labels, spec.palette, opacity, skip_background=spec.task == BINARY)
    return Prediction(
        model=spec.key,
        labels=labels,
        scores=dense.scores,
        overlay=overlay,
        class_fractions=fractions,
        seconds=time.perf_counter() - (started if started is not None else time.perf_counter()),
        raw=dense.grey,
        classes=spec.classes,
        palette=spec.palette,
        pipeline=pipeline or spec.default_pipeline.name,
        cached=cached,
        tta=tta,
        engine=outputs.mode,
    )
