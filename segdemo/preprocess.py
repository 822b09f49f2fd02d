"""Array helpers shared by inference and training (numpy only)."""

from __future__ import annotations

import numpy as np


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Pads the first two axes at the bottom and right, by reflection, up to multiples of `multiple`.

    Reflection rather than zeros keeps the padded border looking like the image, so a
    fully convolutional network sees no artificial edge there. Crop the result back with
    `output[:height, :width]`.
    """
    height, width = image.shape[:2]
    extra_rows = -height % multiple
    extra_cols = -width % multiple
    if not extra_rows and not extra_cols:
        return image
    pad = [(0, extra_rows), (0, extra_cols)] + [(0, 0)] * (image.ndim - 2)
    # np.pad's reflect needs more pixels than the pad; 'symmetric' plus edge handles tiny images.
    mode = "reflect" if height > extra_rows and width > extra_cols else "edge"
    return np.pad(image, pad, mode=mode)
