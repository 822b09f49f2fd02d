"""Several models on one image, side by side: the lecture's figure 8, live.

`compare()` runs each model, scores it against the ground truth when one is given, and draws
one figure: the input and the truth on top, then per model its grey output and its
binarized output with MSE, IoU and time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, metrics, registry, render
from segdemo.predict import Prediction, predict
from segdemo.weights import WeightsMissingError

PANEL = 192  # pixels per panel side in the figure; small images are enlarged without blurring
TOP_MARGIN = 30  # room for the label a web page floats over the figure's top-left corner
TITLE_WIDTH = 200
LINE = 18


@dataclass(frozen=True)
class ComparisonRow:
    """One model's result and, when the truth is known, its scores."""

    key: str
    title: str
    prediction: Prediction | None
    mse: float | None = None
    iou: float | None = None
    error: str | None = None  # e.g. missing weights: the other models still run


def load_truth(truth) -> np.ndarray:
    """A ground-truth mask file or array as 0/1 float32 (white = 1)."""
    return (images.to_gray(images.load(truth)) >= 128).astype(np.float32)


def compare(image, model_keys: list[str], threshold: float | None = None, truth=None) -> tuple[np.ndarray, list[ComparisonRow]]:
    """Runs every model in `model_keys` on `image` and returns (figure, rows).

    Args:
        image: anything `segdemo.images.load` accepts.
        model_keys: registry keys, in display order (at least one).
        threshold: binarization threshold in [0, 1] (None: each model's default).
        truth: optional ground-truth mask in the dataset's own convention (eliret: white =
            object; membrane: white = cell interior, as the lecture's labels).

    Raises:
        ValueError: no model chosen, a bad image or truth, or a model that cannot run.
    """
    if not model_keys:
        raise ValueError("Choose at least one model to compare.")
    pixels = images.load(image)
    truth_mask = None
    if truth is not None:
        truth_mask = load_truth(truth)
        if truth_mask.shape != pixels.shape[:2]:
            raise ValueError(f"The ground truth is {truth_mask.shape[1]}×{truth_mask.shape[0]} but the image is {pixels.shape[1]}×{pixels.shape[0]}.")
    rows = []
    for key in model_keys:
        spec = registry.get(key)
        try:
            prediction = predict(pixels, key, threshold)
        except WeightsMissingError as error:
            rows.append(ComparisonRow(key, spec.title, None, error=str(error)))
            continue
        mse = iou = None
        if truth_mask is not None:
            # The truth follows the dataset's convention, which is what the network was
            # trained to output; the foreground of an inverted model is its complement.
            foreground_truth = 1.0 - truth_mask if spec.default_pipeline.inverted else truth_mask
            mse = metrics.mse(prediction.raw, truth_mask)
            iou = metrics.iou(prediction.labels, foreground_truth)
        rows.append(ComparisonRow(key, spec.title, prediction, mse, iou))
    return figure(pixels, truth_mask, rows), rows


def table(rows: list[ComparisonRow]) -> list[list]:
    """Rows for a results table: model, MSE, IoU, milliseconds, foreground %."""
    return [
        [row.title, None, None, None, None, row.error]
        if row.prediction is None
        else [
            row.title,
            None if row.mse is None else round(row.mse, 5),
            None if row.iou is None else round(row.iou, 4),
            round(row.prediction.seconds * 1000, 1),
            round(100 * float(np.mean(row.prediction.labels > 0)), 2),
            "",
        ]
        for row in rows
    ]


TABLE_HEADERS = ["model", "MSE vs truth", "IoU vs truth", "time (ms)", "foreground %", "note"]


def figure(pixels: np.ndarray, truth: np.ndarray | None, rows: list[ComparisonRow]) -> np.ndarray:
    """Draws the comparison figure as a uint8 RGB array."""
    cell_width, cell_height = PANEL + 16, PANEL + 2 * LINE + 12
    canvas = Image.new("RGB", (TITLE_WIDTH + 2 * cell_width, TOP_MARGIN + cell_height * (len(rows) + 1)), "white")
    draw = ImageDraw.Draw(canvas)

    def put(panel_pixels, column: int, row: int, caption: str) -> None:
        left, top = TITLE_WIDTH + column * cell_width, TOP_MARGIN + row * cell_height
        draw.text((left, top + 2), caption, fill="black", font=render.font())
        canvas.paste(render.panel(panel_pixels, PANEL), (left, top + LINE + 4))

    draw.text((8, TOP_MARGIN + 8), "input", fill="black", font=render.font())
    draw.text((8, TOP_MARGIN + 8 + LINE), f"{pixels.shape[1]} x {pixels.shape[0]} px", fill=(90, 90, 90), font=render.font())
    put(pixels, 0, 0, "input image")
    if truth is not None:
        put(render.binary(truth), 1, 0, "ground truth")
    else:
        draw.text((TITLE_WIDTH + cell_width, TOP_MARGIN + 2), "no ground truth given", fill=(120, 120, 120), font=render.font())
    for index, row in enumerate(rows, start=1):
        top = TOP_MARGIN + index * cell_height
        draw.text((8, top + 8), row.title, fill="black", font=render.font())
        if row.prediction is None:
            draw.text((TITLE_WIDTH, top + 8), "not available: weights missing (see the table)", fill=(170, 0, 0), font=render.font())
            continue
        details = [f"{row.prediction.seconds * 1000:.1f} ms"]
        if row.iou is not None:
            details = [f"MSE {row.mse:.4f}", f"IoU {row.iou:.3f}", *details]
        for line, text in enumerate(details, start=1):
            draw.text((8, top + 8 + line * LINE), text, fill=(60, 60, 60), font=render.font())
        put(render.grey(row.prediction.raw), 0, index, "grey output")
        # Shown in the network's own convention (membrane models: cells white), like the truth.
        binarized = row.prediction.labels
        if registry.get(row.key).default_pipeline.inverted:
            binarized = 1 - binarized
        put(render.binary(binarized), 1, index, "binarized output")
    return np.asarray(canvas)


def photo_panel(prediction: Prediction, max_side: int = 640) -> np.ndarray:
    """A photo's overlay with its legend (class colours and area %) on the right."""
    overlay = np.asarray(render.panel(prediction.overlay, max_side))
    legend = render.legend(prediction.class_fractions, prediction.classes, prediction.palette)
    height = max(overlay.shape[0], legend.shape[0])
    canvas = np.full((height, overlay.shape[1] + legend.shape[1], 3), 255, np.uint8)
    canvas[: overlay.shape[0], : overlay.shape[1]] = overlay
    canvas[: legend.shape[0], overlay.shape[1] :] = legend
    return canvas


def compare_photos(image, model_keys: list[str], threshold: float, pipeline: str, opacity: float, on_model=None) -> list[tuple]:
    """Runs several multi-class models on one photo: [(title, panel, prediction)], or
    (title, None, WeightsMissingError) for a model whose weights are not available.

    Args:
        on_model: optional callback(index, count, title) called before each model runs
            (the app shows it as progress: the large networks take seconds each on a CPU).
    """
    if not model_keys:
        raise ValueError("Choose at least one model.")
    pixels = images.load(image)
    results = []
    for index, key in enumerate(model_keys):
        spec = registry.get(key)
        if on_model is not None:
            on_model(index, len(model_keys), spec.title)
        try:
            prediction = predict(pixels, key, threshold, pipeline=pipeline, opacity=opacity)
        except WeightsMissingError as error:
            results.append((spec.title, None, error))
            continue
        results.append((spec.title, photo_panel(prediction), prediction))
    return results
