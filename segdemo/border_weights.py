"""The U-Net paper's weight map: a heavier loss on the thin membranes between touching cells.

Ronneberger, Fischer and Brox (2015), equation 2: each pixel's loss is weighted by

    w(x) = w_c(x) + w0 · exp(−(d1(x) + d2(x))² / (2σ²)),

where d1 and d2 are its distances to the nearest and the second nearest cell. Where two cells
nearly touch, both distances are small and the weight is close to 1 + w0; a membrane pixel far
from any second cell keeps a weight of about 1. The network is pushed hardest where a one-pixel gap
in the membrane would merge two cells, the error the challenge's Rand error punishes most. The paper
used w0 = 10 and σ ≈ 5 pixels on the 512×512 slices.

Here the border term is put on the membrane pixels only (inside a cell d1 = 0, and the paper's
figure 3d shows the weight on the separating borders), and w_c is 1 everywhere: the paper's class
balancing would move the 0.5 threshold that pixel accuracy is measured at.
"""

from __future__ import annotations

import cv2
import numpy as np

PAPER_W0 = 10.0
PAPER_SIGMA = 5.0  # pixels at the slices' 512×512
REACH_SIGMAS = 5.0


def unet_weight_map(
    cells: np.ndarray, w0: float = PAPER_W0, sigma: float = PAPER_SIGMA, keep_membrane_total: bool = False
) -> np.ndarray:
    """The paper's per-pixel loss weights for one label mask.

    Args:
        cells: (H, W) mask, true (or ≥ 0.5) inside a cell and false on the membranes. Cells are
            the 4-connected regions of the true pixels, as the Rand error counts them.
        w0: the border term's height (the paper: 10).
        sigma: its width in pixels (the paper: about 5 at 512×512).
        keep_membrane_total: rescale the membrane pixels' weights to a mean of 1, so that the
            membrane class weighs in the loss what it weighs without the map and only the share
            of its thin parts between cells grows (the paper's map makes membrane worth about
            four times more than cell interior, which moves the threshold pixel accuracy needs).

    Returns:
        float32 (H, W) weights: 1 inside cells, 1 + w0 · exp(−(d1 + d2)² / (2σ²)) on the membranes
        (divided by its mean over the membranes with `keep_membrane_total`).
    """
    cells = np.asarray(cells)
    if cells.ndim != 2:
        raise ValueError(f"unet_weight_map needs one (H, W) mask, got shape {cells.shape}.")
    if w0 < 0 or sigma <= 0:
        raise ValueError(f"w0 must be ≥ 0 and sigma > 0, got w0={w0}, sigma={sigma}.")
    inside = (cells >= 0.5).astype(np.uint8)
    count, regions, boxes, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
    nearest = np.full(inside.shape, np.inf, np.float32)
    second = np.full(inside.shape, np.inf, np.float32)
    # A cell farther than REACH_SIGMAS·σ from a pixel adds at most w0·exp(−12.5) (4e-5 at w0 = 10)
    # there, so each cell's distances are computed only within that reach of its bounding box:
    # 0.05–0.08 s a 512×512 slice instead of 0.3 s.
    reach = int(np.ceil(REACH_SIGMAS * sigma))
    height, width = inside.shape
    for region in range(1, count):
        left, top, box_width, box_height = boxes[region, :4]
        rows = slice(max(0, top - reach), min(height, top + box_height + reach))
        columns = slice(max(0, left - reach), min(width, left + box_width + reach))
        # Distance to this cell: the distance transform of its complement (the whole cell is in the window).
        distance = cv2.distanceTransform((regions[rows, columns] != region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        near, far = nearest[rows, columns], second[rows, columns]
        np.minimum(far, np.maximum(near, distance), out=far)
        np.minimum(near, distance, out=near)
    border = w0 * np.exp(-np.square(nearest + second) / (2.0 * sigma**2))
    membranes = inside == 0
    border[~membranes] = 0.0
    weights = 1.0 + border
    if keep_membrane_total and membranes.any():
        weights[membranes] /= weights[membranes].mean()
    return weights.astype(np.float32)


def weight_maps(
    cell_masks: np.ndarray, w0: float = PAPER_W0, sigma: float = PAPER_SIGMA, keep_membrane_total: bool = False
) -> np.ndarray:
    """`unet_weight_map` for each of (N, H, W, 1) cell masks, shaped like them."""
    return np.stack([unet_weight_map(mask[..., 0], w0, sigma, keep_membrane_total) for mask in np.asarray(cell_masks)])[..., None]
