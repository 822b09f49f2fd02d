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
from segdemo.predict import TTA_FAMILIES, Prediction, predict
from segdemo.weights import WeightsMissingError

PANEL = 180  # pixels per panel side; small images are enlarged without blurring
GAP = 10
TOP_MARGIN = 30  # room for the label a web page floats over the figure's top-left corner
LINE = 18
TITLE_SIZE = 16
# Two panels side by side, each model's title and scores on lines above them: 390 px wide,
# so a phone (390 px) shows the figure at full size, without horizontal scrolling.
FIGURE_WIDTH = 2 * PANEL + 3 * GAP

# The figure's words; the app passes its own (e.g. Portuguese) with the same keys.
CAPTIONS = {
    "input": "input image",
    "size": "{width} × {height} px",
    "truth": "ground truth",
    "no_truth": "no ground truth given",
    "grey": "grey output",
    "binary": "binarized output",
    "missing": "not available: weights missing (see the table)",
    "tta": "+ TTA (8 views)",
}


@dataclass(frozen=True)
class ComparisonRow:
    """One model's result and, when the truth is known, its scores."""

    key: str
    title: str
    prediction: Prediction | None
    mse: float | None = None
    iou: float | None = None
    error: str | None = None  # e.g. missing weights: the other models still run
    tta: bool = False  # the mean over the eight flips and rotations (a second row for the model)


def load_truth(truth) -> np.ndarray:
    """A ground-truth mask file or array as 0/1 float32 (white = 1)."""
    return (images.to_grey(images.load(truth)) >= 128).astype(np.float32)


def compare(
    image,
    model_keys: list[str],
    threshold: float | None = None,
    truth=None,
    *,
    captions: dict | None = None,
    titles: dict | None = None,
    tta: bool = False,
) -> tuple[np.ndarray, list[ComparisonRow]]:
    """Runs every model in `model_keys` on `image` and returns (figure, rows).

    Args:
        image: anything `segdemo.images.load` accepts.
        model_keys: registry keys, in display order (at least one).
        threshold: binarization threshold in [0, 1] (None: each model's default).
        truth: optional ground-truth mask in the dataset's own convention (eliret: white =
            object; membrane: white = cell interior, as the lecture's labels).
        captions: the figure's words (keys of `CAPTIONS`), e.g. in another language.
        titles: model key -> title drawn in the figure (default: the registry's titles).
        tta: also run each model that takes test-time augmentation (the membrane models) on the
            eight flips and 90° rotations, averaged: a second row right after its plain one.

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
            raise ValueError(
                f"The ground truth is {truth_mask.shape[1]}×{truth_mask.shape[0]} but the image is {pixels.shape[1]}×{pixels.shape[0]}."
            )
    rows = []
    for key in model_keys:
        spec = registry.get(key)
        for averaged in (False, True) if tta and spec.family in TTA_FAMILIES else (False,):
            try:
                prediction = predict(pixels, key, threshold, tta=averaged)
            except WeightsMissingError as error:
                rows.append(ComparisonRow(key, spec.title, None, error=str(error)))
                break
            mse = iou = None
            if truth_mask is not None:
                # The truth follows the dataset's convention, which is what the network was
                # trained to output; the foreground of an inverted model is its complement.
                foreground_truth = 1.0 - truth_mask if spec.default_pipeline.inverted else truth_mask
                mse = metrics.mse(prediction.raw, truth_mask)
                iou = metrics.iou(prediction.labels, foreground_truth)
            rows.append(ComparisonRow(key, spec.title, prediction, mse, iou, tta=averaged))
    return figure(pixels, truth_mask, rows, captions, titles), rows


def row_title(row: ComparisonRow, titles: dict | None = None, captions: dict | None = None) -> str:
    """The row's model title (from `titles` when given), with the TTA words for an averaged row."""
    title = (titles or {}).get(row.key, row.title)
    return f"{title} {({**CAPTIONS, **(captions or {})})['tta']}" if row.tta else title


def table(rows: list[ComparisonRow]) -> list[list]:
    """Rows for a results table: model, MSE, IoU, milliseconds, foreground %."""
    return [
        [row.title, None, None, None, None, row.error]
        if row.prediction is None
        else [
            row_title(row),
            None if row.mse is None else round(row.mse, 5),
            None if row.iou is None else round(row.iou, 4),
            round(row.prediction.seconds * 1000, 1),
            round(100 * float(np.mean(row.prediction.labels > 0)), 2),
            "",
        ]
        for row in rows
    ]


TABLE_HEADERS = ["model", "MSE vs truth", "IoU vs truth", "time (ms)", "foreground %", "note"]


def figure(
    pixels: np.ndarray,
    truth: np.ndarray | None,
    rows: list[ComparisonRow],
    captions: dict | None = None,
    titles: dict | None = None,
) -> np.ndarray:
    """Draws the comparison figure as a uint8 RGB array, `FIGURE_WIDTH` pixels wide.

    On top the input and the truth; below, one block per model: its title, its scores, then its
    grey and binarized outputs side by side.

    Args:
        captions: words to use instead of `CAPTIONS` (same keys; missing keys keep the English).
        titles: model key -> title to draw (default: each row's title).
    """
    words = {**CAPTIONS, **(captions or {})}
    titles = titles or {}
    heading = LINE + 6  # the model's title line
    caption_block = LINE + 4  # a panel's caption
    top_block = TOP_MARGIN + LINE + caption_block + PANEL + GAP
    model_block = heading + LINE + caption_block + PANEL + GAP
    canvas = Image.new("RGB", (FIGURE_WIDTH, top_block + model_block * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)

    def put(panel_pixels, column: int, top: int, caption: str) -> None:
        left = GAP + column * (PANEL + GAP)
        draw.text((left, top), caption, fill="black", font=render.font())
        canvas.paste(render.panel(panel_pixels, PANEL), (left, top + caption_block))

    draw.text(
        (GAP, TOP_MARGIN),
        words["size"].format(width=pixels.shape[1], height=pixels.shape[0]),
        fill=(90, 90, 90),
        font=render.font(),
    )
    put(pixels, 0, TOP_MARGIN + LINE, words["input"])
    if truth is not None:
        put(render.binary(truth), 1, TOP_MARGIN + LINE, words["truth"])
    else:
        draw.text((2 * GAP + PANEL, TOP_MARGIN + LINE), words["no_truth"], fill=(120, 120, 120), font=render.font())
    for index, row in enumerate(rows):
        top = top_block + index * model_block
        draw.line([(GAP, top - GAP // 2), (FIGURE_WIDTH - GAP, top - GAP // 2)], fill=(210, 210, 210))
        draw.text((GAP, top), row_title(row, titles, words), fill="black", font=render.font(TITLE_SIZE))
        if row.prediction is None:
            draw.text((GAP, top + heading), words["missing"], fill=(170, 0, 0), font=render.font())
            continue
        details = [f"{row.prediction.seconds * 1000:.1f} ms"]
        if row.iou is not None:
            details = [f"MSE {row.mse:.4f}", f"IoU {row.iou:.3f}", *details]
        draw.text((GAP, top + heading), "   ".join(details), fill=(60, 60, 60), font=render.font())
        panels_top = top + heading + LINE
        put(render.grey(row.prediction.raw), 0, panels_top, words["grey"])
        # Shown in the network's own convention (membrane models: cells white), like the truth.
        binarized = row.prediction.labels
        if registry.get(row.key).default_pipeline.inverted:
            binarized = 1 - binarized
        put(render.binary(binarized), 1, panels_top, words["binary"])
    return np.asarray(canvas)


def photo_panel(prediction: Prediction, max_side: int = 640, class_names: dict[str, str] | None = None) -> np.ndarray:
    """A photo's overlay with its legend (class colours and area %) on the right.

    Args:
        class_names: English class name -> name to write in the legend (e.g. Portuguese).
    """
    overlay = np.asarray(render.panel(prediction.overlay, max_side))
    names = class_names or {}
    fractions = {names.get(name, name): share for name, share in prediction.class_fractions.items()}
    legend = render.legend(fractions, tuple(names.get(name, name) for name in prediction.classes), prediction.palette)
    height = max(overlay.shape[0], legend.shape[0])
    canvas = np.full((height, overlay.shape[1] + legend.shape[1], 3), 255, np.uint8)
    canvas[: overlay.shape[0], : overlay.shape[1]] = overlay
    canvas[: legend.shape[0], overlay.shape[1] :] = legend
    return canvas


def compare_photos(
    image, model_keys: list[str], threshold: float, pipeline: str, opacity: float, on_model=None, class_names=None
) -> list[tuple]:
    """Runs several multi-class models on one photo: [(title, panel, prediction)], or
    (title, None, WeightsMissingError) for a model whose weights are not available.

    Args:
        on_model: optional callback(index, count, title) called before each model runs
            (the app shows it as progress: the large networks take seconds each on a CPU).
        class_names: optional callable(classes) -> {English name: name to draw in the legend}.
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
        results.append(
            (spec.title, photo_panel(prediction, class_names=class_names(spec.classes) if class_names else None), prediction)
        )
    return results
