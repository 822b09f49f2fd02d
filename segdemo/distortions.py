"""One range per distortion for the paired augmentation (no TensorFlow here, so the UI can build
its controls without importing it; `segdemo.augment` applies them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# The largest range each of the newer distortions accepts.
ELASTIC_AND_INTENSITY_LIMITS = {"elastic": 40.0, "brightness": 0.5, "contrast": 0.9, "gamma": 0.9}


@dataclass(frozen=True)
class Distortions:
    """The ranges of one random transform, one per distortion (the lecture's exercise: each on
    its own or together). Zero turns a distortion off; all zero is the identity.

    The geometric ones (affine, flip, elastic) move image and mask together in one resampling;
    the intensity ones (brightness, contrast, gamma) change the image only, so the mask still
    marks the same pixels.

    Attributes:
        rotation_degrees: rotation drawn in ±this many degrees (ImageDataGenerator's rotation_range).
        shift: shift drawn in ±this fraction of the width and height (width/height_shift_range).
        shear_degrees: shear angle drawn in ±this many degrees (shear_range).
        zoom: scale drawn in [1 − zoom, 1 + zoom] per axis (zoom_range).
        horizontal_flip: whether half of the samples are mirrored left to right.
        elastic: elastic deformation, as in the U-Net paper (Ronneberger et al., 2015): random
            displacement vectors on a coarse 3×3 grid, drawn with this standard deviation in
            pixels of the image transformed (the paper: 10 at 512×512), interpolated bicubically
            to every pixel.
        brightness: a value drawn in ±this added to the image (intensities in [0, 1]).
        contrast: the image's deviations from its mean scaled by a factor drawn in [1 − contrast, 1 + contrast].
        gamma: each intensity raised to a power drawn in [1 − gamma, 1 + gamma].
        symmetries: whether each sample is also turned by a random multiple of 90° and mirrored top
            to bottom half of the time, so that with the horizontal flip it is any of the square's
            eight symmetries (the views test-time augmentation averages over; exact on square images).
    """

    rotation_degrees: float = 0.0
    shift: float = 0.0
    shear_degrees: float = 0.0
    zoom: float = 0.0
    horizontal_flip: bool = False
    elastic: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    symmetries: bool = False

    def __post_init__(self) -> None:
        limits = {"rotation_degrees": 180.0, "shift": 1.0, "shear_degrees": 45.0, "zoom": 0.9}
        limits.update(ELASTIC_AND_INTENSITY_LIMITS)
        for name, limit in limits.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not 0 <= value <= limit
            ):
                raise ValueError(f"The {name.replace('_', ' ')} range must be a number in [0, {limit:g}], got {value!r}.")
        for name in ("horizontal_flip", "symmetries"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")


# What the lecture's aug_dicts did. eliret: shifts ±70 % and flips. Membrane (program 7): rotation
# ±10°, shifts ±5 %, shear 10°, zoom ±20 % and horizontal_flip=False. (Training here also flips the
# membrane slices: see MEMBRANE_AFFINE and train.membrane.)
LECTURE_DISTORTIONS = {
    "eliret": Distortions(shift=0.7, horizontal_flip=True),
    "membrane": Distortions(rotation_degrees=10.0, shift=0.05, shear_degrees=10.0, zoom=0.2, horizontal_flip=False),
}

# The geometric part of `Distortions` (what `segdemo.augment.random_affine` takes).
AFFINE_FIELDS = ("rotation_degrees", "shift", "shear_degrees", "zoom", "horizontal_flip", "symmetries")
