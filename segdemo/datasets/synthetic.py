"""A generator of larger eliret-like images: several ellipses and rectangles per image.

It follows the course's generator (segm_gera.cpp): a uniform background level in 0–255,
objects 32 grey levels darker when the background is above 128 and 32 lighter otherwise,
Gaussian noise with sigma 16, and the result stretched to span 0–255. Objects are 9–23
pixels across, as in eliret, and never overlap, so the claim that augmented models find
off-centre objects is measured on many images, not only on maior1/maior2.
"""

from __future__ import annotations

import cv2
import numpy as np

CONTRAST = 32
NOISE_SIGMA = 16.0
OBJECT_SIDES = (9, 23)
GAP = 3  # pixels kept free between objects


def _place(rng: np.random.Generator, occupied: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """A free box (top, left, box_height, box_width) for a new object, or None after many tries."""
    for _ in range(200):
        box_height, box_width = rng.integers(OBJECT_SIDES[0], OBJECT_SIDES[1] + 1, size=2)
        top = int(rng.integers(1, height - box_height - 1))
        left = int(rng.integers(1, width - box_width - 1))
        region = occupied[max(0, top - GAP) : top + box_height + GAP, max(0, left - GAP) : left + box_width + GAP]
        if not region.any():
            return top, left, int(box_height), int(box_width)
    return None


def make_large_image(
    rng: np.random.Generator,
    height: int = 80,
    width: int = 88,
    objects: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """One image and its mask, both float32 H×W in [0, 1] (mask 0/1).

    Args:
        rng: the random generator (seed it for reproducible images).
        height, width: image size; at least 32×32.
        objects: how many ellipses and rectangles to draw (alternating).
    """
    if height < 32 or width < 32:
        raise ValueError("Large images must be at least 32×32.")
    mask = np.zeros((height, width), np.uint8)
    for index in range(objects):
        box = _place(rng, mask, height, width)
        if box is None:
            break
        top, left, box_height, box_width = box
        if index % 2 == 0:
            center = (left + box_width // 2, top + box_height // 2)
            axes = (box_width // 2, box_height // 2)
            cv2.ellipse(mask, center, axes, 0, 0, 360, 1, thickness=-1)
        else:
            mask[top : top + box_height, left : left + box_width] = 1
    background = float(rng.uniform(0, 255))
    foreground = background - CONTRAST if background > 128 else background + CONTRAST
    image = np.where(mask > 0, foreground, background) + rng.normal(0.0, NOISE_SIGMA, size=mask.shape)
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
    # Quantise to 8 bits, as the course's PNG files are.
    image = np.round(image * 255.0) / 255.0
    return image.astype(np.float32), mask.astype(np.float32)


def make_large_images(
    count: int, seed: int, sizes=((72, 88), (80, 88), (64, 96), (96, 96))
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` reproducible (image, mask) pairs of the given sizes, four objects each."""
    rng = np.random.default_rng(seed)
    return [make_large_image(rng, *sizes[index % len(sizes)]) for index in range(count)]
