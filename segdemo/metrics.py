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
