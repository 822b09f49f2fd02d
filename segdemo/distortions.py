"""One range per distortion for the paired augmentation (no TensorFlow here, so the UI can build
its controls without importing it; `segdemo.augment` applies them)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Distortions:
    """The ranges of one random affine transform, one per distortion (the lecture's exercise:
    each on its own or together). Zero turns a distortion off; all zero is the identity.

    Attributes:
        rotation_degrees: rotation drawn in ±this many degrees (ImageDataGenerator's rotation_range).
        shift: shift drawn in ±this fraction of the width and height (width/height_shift_range).
        shear_degrees: shear angle drawn in ±this many degrees (shear_range).
        zoom: scale drawn in [1 − zoom, 1 + zoom] per axis (zoom_range).
        horizontal_flip: whether half of the samples are mirrored left to right.
    """

    rotation_degrees: float = 0.0
    shift: float = 0.0
    shear_degrees: float = 0.0
    zoom: float = 0.0
    horizontal_flip: bool = False

    def __post_init__(self) -> None:
        limits = {"rotation_degrees": 180.0, "shift": 1.0, "shear_degrees": 45.0, "zoom": 0.9}
        for name, limit in limits.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not 0 <= value <= limit
            ):
                raise ValueError(f"The {name.replace('_', ' ')} range must be a number in [0, {limit:g}], got {value!r}.")
        if not isinstance(self.horizontal_flip, bool):
            raise ValueError(f"horizontal_flip must be True or False, got {self.horizontal_flip!r}.")


# What the lecture's aug_dicts did. eliret: shifts ±70 % and flips. Membrane (program 7): rotation
# ±10°, shifts ±5 %, shear 10°, zoom ±20 % and horizontal_flip=False. (Training here also flips the
# membrane slices: see MEMBRANE_AFFINE and train.membrane.)
LECTURE_DISTORTIONS = {
    "eliret": Distortions(shift=0.7, horizontal_flip=True),
    "membrane": Distortions(rotation_degrees=10.0, shift=0.05, shear_degrees=10.0, zoom=0.2, horizontal_flip=False),
}
