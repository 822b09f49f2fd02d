"""Drawing helpers the views share: a float map in colour, pictures side by side."""

from __future__ import annotations

import cv2
import numpy as np


def colourise(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """An H×W float map as an RGB image (viridis), scaled from `low` to `high` (default: its own range)."""
    low = float(np.min(values)) if low is None else low
    high = float(np.max(values)) if high is None else high
    scaled = (
        np.zeros(values.shape, np.uint8)
        if high - low < 1e-12
        else np.clip((values - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    )
    return cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS)[..., ::-1].copy()


def side_by_side(tiles: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """RGB pictures in a row, top-aligned, `gap` white pixels after each."""
    height = max(tile.shape[0] for tile in tiles)
    padded = [np.pad(tile, ((0, height - tile.shape[0]), (0, gap), (0, 0)), constant_values=255) for tile in tiles]
    return np.hstack(padded)
