"""Training curves: each trained model's training and validation loss per epoch, from
`weights/MODEL.metrics.json` (written by `python -m train`), with the model's figures and a
log-scale plot on which overfitting shows as a gap of orders of magnitude between the curves.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segdemo import registry, settings
from segdemo.render import font

TRAIN_COLOUR = (0, 114, 178)
VALID_COLOUR = (213, 94, 0)
BEST_COLOUR = (120, 120, 120)

# Plot labels; the app passes its own (e.g. Portuguese) with the same keys.
LABELS = {
    "title": "{model}: loss per epoch (log scale)",
    "train": "training loss",
    "valid": "validation loss",
    "epoch": "epoch",
    "best": "best validation: epoch {epoch}",
}


@dataclass(frozen=True)
class TrainingCurves:
    """One model's loss history and figures.

    Attributes:
        model: the registry key.
        loss: what the loss is ("mse" for the eliret models, "binary cross-entropy" for membranes).
        train: training loss per epoch.
        valid: validation loss per epoch.
        figures: the model's final figures (name -> value), e.g. {"test MSE": 0.0042, "test IoU": 0.978}.
    """

    model: str
    loss: str
    train: tuple[float, ...]
    valid: tuple[float, ...]
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return max(len(self.train), len(self.valid))

    @property
    def best_epoch(self) -> int:
        """The epoch (1-based) with the lowest validation loss: the weights the app uses."""
        if not self.valid:
            raise ValueError(f"{self.model}: no validation loss was recorded.")
        return int(np.argmin(self.valid)) + 1

    def gap(self) -> dict[str, float]:
        """What the curves show about overfitting: the lowest training loss, the validation loss at
        the best epoch and at the end, and how many times larger the best validation loss is."""
        lowest_train = min(self.train)
        best_valid = min(self.valid)
        return {
            "lowest_train": lowest_train,
            "best_valid": best_valid,
            "last_valid": self.valid[-1],
            "best_epoch": float(self.best_epoch),
            "ratio": best_valid / lowest_train if lowest_train > 0 else math.inf,
            "decades": math.log10(best_valid / lowest_train) if lowest_train > 0 else math.inf,
        }


def metrics_path(key: str) -> Path | None:
    """The metrics file of a trained model: in the first weights folder that holds it, or None."""
    spec = registry.get(key)
    name = Path(spec.weights_file).name.replace(".weights.h5", ".metrics.json")
    return next((folder / name for folder in settings.weights_dirs() if (folder / name).is_file()), None)


def _figures(metrics: dict) -> dict[str, float]:
    """The figures the README's results tables show, as far as the file has them."""
    wanted = [
        ("test MSE", ("test", "mse")),
        ("test IoU", ("test", "iou")),
        ("validation MSE", ("valid", "mse")),
        ("large-image IoU", ("large", "iou")),
        ("validation accuracy", ("valid", "accuracy")),
        ("membrane IoU", ("valid", "membrane_iou")),
        ("membrane F1", ("valid", "membrane_f1")),
    ]
    figures = {}
    for name, (group, key) in wanted:
        value = metrics.get(group, {}).get(key) if isinstance(metrics.get(group), dict) else None
        if isinstance(value, (int, float)) and math.isfinite(value):
            figures[name] = float(value)
    return figures


def parse(metrics: dict, key: str) -> TrainingCurves:
    """Training curves from the contents of a metrics file.

    Raises:
        ValueError: the file has no loss history with positive finite values.
    """
    history = metrics.get("history")
    series = []
    for name in ("loss", "val_loss"):
        values = (history.get(name) if isinstance(history, dict) else None) or []
        if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"The metrics of {key} need positive, finite '{name}' values for every epoch.")
        series.append(tuple(float(v) for v in values))
    loss = "mse" if "mse" in metrics.get("test", metrics.get("valid", {})) else "binary cross-entropy"
    return TrainingCurves(model=key, loss=loss, train=series[0], valid=series[1], figures=_figures(metrics))


def load(key: str) -> TrainingCurves | None:
    """The training curves of a registry model, or None when it has no metrics file (the
    published PSPNets, a model not trained yet)."""
    path = metrics_path(key)
    if path is None:
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as failure:
        raise ValueError(f"{path.name} cannot be read: {failure}") from None
    return parse(metrics, key)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_label(power: int) -> str:
    """10 to the `power`, written as 10⁻³ (1 and 10 as themselves)."""
    return {0: "1", 1: "10"}.get(power, "10" + str(power).translate(_SUPERSCRIPT))


def _decades(values: list[float]) -> tuple[int, int]:
    low = math.floor(math.log10(min(values)))
    high = math.ceil(math.log10(max(values)))
    return low, max(high, low + 1)


def plot(
    curves: list[TrainingCurves],
    labels: dict[str, str] | None = None,
    titles: dict[str, str] | None = None,
    width: int = 720,
    height: int | None = None,
) -> np.ndarray:
    """Training and validation loss per epoch on a log scale (one colour pair per model when
    several are given), with the best validation epoch marked when there is one model.

    Args:
        curves: one or more models' curves.
        labels: the plot's words (keys of `LABELS`), e.g. in Portuguese.
        titles: model key -> title for the heading and the key.
        width, height: the image's size in pixels (height: 400, plus a line of the key per extra model).

    Returns:
        uint8 RGB H×W×3.
    """
    if not curves:
        raise ValueError("No training curves to plot.")
    words = {**LABELS, **(labels or {})}
    height = height or 400 + 18 * (len(curves) - 1)
    titles = titles or {}
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    # Room at the top for the label a web page floats over an image's top-left corner.
    left, top, right, bottom = 64, 58, width - 16, height - 40 - 18 * len(curves)
    low, high = _decades([v for c in curves for v in c.train + c.valid])
    epochs = max(c.epochs for c in curves)

    def to_xy(epoch: float, value: float) -> tuple[float, float]:
        x = left + (right - left) * ((epoch - 1) / max(epochs - 1, 1))
        y = bottom - (bottom - top) * ((math.log10(value) - low) / (high - low))
        return x, y

    heading = words["title"].format(model=", ".join(titles.get(c.model, c.model) for c in curves))
    draw.text((left, 32), heading, fill="black", font=font(15))
    for power in range(low, high + 1):
        _, y = to_xy(1, 10.0**power)
        draw.line([left, y, right, y], fill=(215, 215, 215))
        draw.text((6, y - 8), decade_label(power), fill="black", font=font(12))
        if high - low <= 2 and power < high:  # few decades: 2× and 5× lines, labelled, too
            for factor in (2, 5):
                _, y = to_xy(1, factor * 10.0**power)
                draw.line([left, y, right, y], fill=(238, 238, 238))
                draw.text((6, y - 8), f"{factor * 10.0**power:g}", fill=(90, 90, 90), font=font(11))
    step = (
        next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if epochs / s <= 6)
        if epochs <= 30000
        else epochs // 5
    )
    for tick in [1, *range(step, epochs + 1, step)]:
        x, _ = to_xy(tick, 10.0**low)
        draw.line([x, bottom, x, bottom + 4], fill="black")
        draw.text((x - 8, bottom + 6), str(tick), fill="black", font=font(12))
    draw.text(((left + right) // 2 - 20, bottom + 22), words["epoch"], fill="black", font=font(12))
    draw.rectangle([left, top, right, bottom], outline="black")
    pairs = [(TRAIN_COLOUR, VALID_COLOUR), ((0, 158, 115), (204, 121, 167)), ((86, 180, 233), (230, 159, 0))]
    for number, c in enumerate(curves):
        train_colour, valid_colour = pairs[number % len(pairs)]
        best = c.best_epoch
        x, _ = to_xy(best, 10.0**low)
        if len(curves) == 1:
            draw.line([x, top, x, bottom], fill=BEST_COLOUR)
            draw.text((min(x + 4, right - 170), top + 4), words["best"].format(epoch=best), fill=BEST_COLOUR, font=font(12))
        for values, colour, line_width in ((c.valid, valid_colour, 2), (c.train, train_colour, 2)):
            points = [to_xy(epoch + 1, value) for epoch, value in enumerate(values)]
            draw.line(points, fill=colour, width=line_width)
        # The key: one line per model (two models a line when there is one): its colours, then its name.
        key_y = bottom + 44 + 18 * (number if len(curves) > 1 else 0)
        key_x = left + 8
        prefix = f"{titles.get(c.model, c.model)}: " if len(curves) > 1 else ""
        for text, colour in ((words["train"], train_colour), (words["valid"], valid_colour)):
            label = prefix + text
            draw.line([key_x, key_y, key_x + 18, key_y], fill=colour, width=3)
            draw.text((key_x + 22, key_y - 7), label, fill="black", font=font(12))
            key_x += 30 + int(draw.textlength(label, font=font(12)))
    return np.asarray(image)
