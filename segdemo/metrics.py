"""Segmentation metrics on numpy arrays (no TensorFlow)."""

from __future__ import annotations

import numpy as np


def mse(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error between grey outputs in [0, 1] and a 0/1 mask."""
    return float(np.mean((np.asarray(scores, np.float64) - np.asarray(truth, np.float64)) ** 2))


def iou(labels: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two binary masks, pooled over all pixels given.

    Both masks empty counts as a perfect match (1.0).
    """
    predicted = np.asarray(labels) > 0
    actual = np.asarray(truth) > 0
    union = np.logical_or(predicted, actual).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(predicted, actual).sum() / union)


def pixel_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of pixels whose binary label equals the truth."""
    return float(np.mean((np.asarray(labels) > 0) == (np.asarray(truth) > 0)))


def f1(labels: np.ndarray, truth: np.ndarray) -> float:
    """F1 (Dice) score of the positive class."""
    predicted = np.asarray(labels) > 0
    actual = np.asarray(truth) > 0
    total = predicted.sum() + actual.sum()
    if total == 0:
        return 1.0
    return float(2 * np.logical_and(predicted, actual).sum() / total)


def pixel_error(labels: np.ndarray, truth: np.ndarray) -> float:
    """The ISBI-2012 challenge's pixel error: the fraction of pixels whose binary label differs
    from the truth (1 − pixel accuracy)."""
    return 1.0 - pixel_accuracy(labels, truth)


def cell_regions(cells: np.ndarray) -> np.ndarray:
    """Connected regions (4-connected) of the cell pixels, numbered 1, 2, ...; 0 elsewhere."""
    import cv2

    mask = (np.asarray(cells) > 0).astype(np.uint8)
    if mask.ndim != 2:
        raise ValueError(f"cell_regions takes one H×W mask, got shape {mask.shape}.")
    return cv2.connectedComponents(mask, connectivity=4, ltype=cv2.CV_32S)[1]


def adapted_rand_error(true_regions: np.ndarray, test_regions: np.ndarray) -> float:
    """The adapted Rand error of the SNEMI3D and ISBI-2012 challenges, as
    `skimage.metrics.adapted_rand_error` computes it (its first value).

    Both arguments are label images (0 and 1, 2, ... for regions). Pixels labelled 0 in the truth
    (membrane) are left out ("foreground-restricted"); label 0 of the test image counts as one
    more region. With n_ij the number of counted pixels in true region i and test region j, a_i and
    b_j their sums over j and over i, and N the counted pixels:
    error = 1 − 2·(Σ n_ij² − N) / ((Σ a_i² − N) + (Σ b_j² − N)), one minus the F-score of the
    Rand precision and recall (pairs of pixels that share a region in both images).
    """
    true_regions = np.asarray(true_regions).ravel()
    test_regions = np.asarray(test_regions).ravel()
    if true_regions.shape != test_regions.shape:
        raise ValueError("The two label images must have the same shape.")
    counted = true_regions != 0
    true_ids = np.unique(true_regions[counted], return_inverse=True)[1]
    test_ids = np.unique(test_regions[counted], return_inverse=True)[1]
    total = int(counted.sum())
    if total == 0:
        return 0.0
    columns = int(test_ids.max()) + 1
    joint = np.bincount(true_ids.astype(np.int64) * columns + test_ids, minlength=0).astype(np.float64)
    true_sizes = np.bincount(true_ids).astype(np.float64)
    test_sizes = np.bincount(test_ids).astype(np.float64)
    shared_pairs = joint @ joint - total
    pairs = (true_sizes @ true_sizes - total) + (test_sizes @ test_sizes - total)
    if pairs == 0:
        return 0.0  # every counted pixel alone in its region in both images
    return float(1.0 - 2.0 * shared_pairs / pairs)


def membrane_rand_error(membrane_labels: np.ndarray, membrane_truth: np.ndarray) -> float:
    """The adapted Rand error of a membrane map: the cells (not membrane) as connected regions,
    scored on the true cells' pixels (`adapted_rand_error`). Arguments are H×W, 1 = membrane."""
    predicted_cells = cell_regions(np.asarray(membrane_labels) == 0)
    true_cells = cell_regions(np.asarray(membrane_truth) == 0)
    return adapted_rand_error(true_cells, predicted_cells)
