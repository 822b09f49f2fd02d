"""The lecture's `impHistoria`: training vs validation loss, drawn with Pillow as a PNG."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from segdemo.render import font

WIDTH, HEIGHT = 720, 440
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 40, 50
COLOURS = {"loss": (31, 119, 180), "val_loss": (255, 127, 14)}
LABELS = {"loss": "training loss", "val_loss": "validation loss"}


def save_loss_plot(history: dict[str, list[float]], path: str | Path, title: str) -> Path:
    """Draws loss and val_loss per epoch on a log scale and saves a PNG.

    Args:
        history: Keras `History.history`-like dict with "loss" and optionally "val_loss".
        path: where to write the PNG.
        title: the plot's title.
    """
    series = {name: [v for v in history.get(name, []) if v and v > 0 and math.isfinite(v)] for name in COLOURS}
    series = {name: values for name, values in series.items() if values}
    if not series:
        raise ValueError("The history holds no positive loss values to plot.")
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM
    epochs = max(len(values) for values in series.values())
    low = math.floor(math.log10(min(min(v) for v in series.values())))
    high = math.ceil(math.log10(max(max(v) for v in series.values())))
    high = max(high, low + 1)

    def to_xy(epoch: int, value: float) -> tuple[float, float]:
        x = left + (right - left) * (epoch / max(epochs - 1, 1))
        y = bottom - (bottom - top) * ((math.log10(value) - low) / (high - low))
        return x, y

    draw.rectangle([left, top, right, bottom], outline="black")
    for power in range(low, high + 1):  # decade grid lines, labelled
        _, y = to_xy(0, 10.0**power)
        draw.line([left, y, right, y], fill=(220, 220, 220))
        draw.text((8, y - 6), f"1e{power}", fill="black", font=font())
    for tick in range(0, epochs + 1, max(1, epochs // 5)):
        x, _ = to_xy(min(tick, epochs - 1), 10.0**low)
        draw.text((x - 10, bottom + 8), str(tick), fill="black", font=font())
    draw.text(((left + right) / 2 - 20, HEIGHT - 22), "epoch", fill="black", font=font())
    draw.text((left, 12), title, fill="black", font=font())
    for row, (name, values) in enumerate(series.items()):
        points = [to_xy(epoch, value) for epoch, value in enumerate(values)]
        if len(points) > 1:
            draw.line(points, fill=COLOURS[name], width=2)
        else:
            draw.ellipse([points[0][0] - 3, points[0][1] - 3, points[0][0] + 3, points[0][1] + 3], fill=COLOURS[name])
        legend_y = top + 10 + 18 * row
        draw.line([right - 230, legend_y + 6, right - 200, legend_y + 6], fill=COLOURS[name], width=3)
        draw.text((right - 192, legend_y), f"{LABELS[name]}: {values[-1]:.4g}", fill="black", font=font())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
