"""The ISBI-2012 challenge's measures: adapted Rand error on cells as connected regions, pixel error."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from segdemo import metrics


def rand_error_by_pairs(true_regions: np.ndarray, test_regions: np.ndarray) -> float:
    """The adapted Rand error counted pair by pair over the pixels the truth labels non-zero:
    precision and recall of "these two pixels share a region", and one minus their F-score."""
    counted = [(t, s) for t, s in zip(true_regions.ravel(), test_regions.ravel()) if t != 0]
    both = same_test = same_true = 0
    for (true_a, test_a), (true_b, test_b) in itertools.combinations(counted, 2):
        both += true_a == true_b and test_a == test_b
        same_test += test_a == test_b
        same_true += true_a == true_b
    precision, recall = both / same_true, both / same_test
    return 1.0 - 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adapted_rand_error_counts_pairs_of_pixels(seed):
    rng = np.random.default_rng(seed)
    true_regions = rng.integers(0, 4, (9, 11))
    test_regions = np.where(rng.random((9, 11)) < 0.7, true_regions, rng.integers(0, 5, (9, 11)))
    expected = rand_error_by_pairs(true_regions, test_regions)
    assert 0.05 < expected < 0.95
    assert metrics.adapted_rand_error(true_regions, test_regions) == pytest.approx(expected, abs=1e-12)


def test_rand_error_is_zero_for_the_same_cells_and_counts_merges_and_splits():
    cells = np.ones((20, 20), np.uint8)
    cells[:, 9] = 0  # one membrane: two cells
    membrane_truth = 1 - cells
    assert metrics.membrane_rand_error(membrane_truth, membrane_truth) == 0.0
    assert metrics.pixel_error(membrane_truth, membrane_truth) == 0.0
    # A gap in the membrane merges the two cells: one pixel off, a large Rand error.
    merged = membrane_truth.copy()
    merged[10, 9] = 0
    assert metrics.pixel_error(merged, membrane_truth) == pytest.approx(1 / 400)
    assert metrics.membrane_rand_error(merged, membrane_truth) > 0.3
    # A thicker membrane (a column of cell pixels called membrane) barely matters: those pixels
    # are one more "region" (the test image's membrane), and the cells stay apart.
    thicker = membrane_truth.copy()
    thicker[:, 10] = 1
    assert 0 < metrics.membrane_rand_error(thicker, membrane_truth) < 0.15
    # A spurious membrane splitting a cell costs more than the thicker one did.
    split = membrane_truth.copy()
    split[12, :9] = 1
    assert metrics.membrane_rand_error(split, membrane_truth) > metrics.membrane_rand_error(thicker, membrane_truth)


def test_cells_are_4_connected_regions():
    cells = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert len(np.unique(metrics.cell_regions(cells))) == 4  # background and three diagonal cells
    with pytest.raises(ValueError, match="H×W"):
        metrics.cell_regions(np.ones((2, 3, 3)))
