"""The U-Net paper's weight map (segdemo.border_weights) and its way through the augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segdemo.augment import MEMBRANE_TRAINING, PairedAugmenter, augmented_dataset
from segdemo.border_weights import unet_weight_map, weight_maps


def two_cells(gap: int) -> np.ndarray:
    """Two 20×20 cells side by side, `gap` membrane columns apart, in a 40-pixel-high frame of membrane."""
    cells = np.zeros((40, 60), bool)
    cells[10:30, 5:25] = True
    cells[10:30, 25 + gap : 45 + gap] = True
    return cells


def test_the_weight_between_two_cells_is_the_papers_formula():
    weights = unet_weight_map(two_cells(gap=3), w0=10, sigma=5)
    # The gap's middle pixel is 2 pixels from each cell: 1 + 10 · exp(−(2 + 2)² / (2 · 5²)).
    assert weights[20, 26] == pytest.approx(1 + 10 * math.exp(-16 / 50), rel=1e-4)
    # Its neighbours in the gap: 1 and 3 pixels away.
    assert weights[20, 25] == pytest.approx(1 + 10 * math.exp(-16 / 50), rel=1e-4)
    assert weights[20, 24] == 1.0  # inside a cell: no border term
    # A membrane pixel at the frame's corner is far from both cells: about 1.
    assert weights[0, 0] < 1.01
    # The narrower the gap, the heavier its membrane; a lone cell has no border term at all.
    assert unet_weight_map(two_cells(gap=1), w0=10, sigma=5)[20, 25] > weights[20, 26] > unet_weight_map(two_cells(8))[20, 28]
    lone = two_cells(gap=3)
    lone[:, 25:] = False
    assert np.array_equal(unet_weight_map(lone), np.ones(lone.shape, np.float32))


def test_the_windowed_map_is_the_whole_images_map(membrane_dir):
    """unet_weight_map measures each cell's distances only near the cell; the plain computation
    (every cell's distance transform over the whole slice, the two smallest per pixel) must agree."""
    import cv2

    from segdemo.datasets import membrane

    _, masks = membrane.load_slices([5], membrane_dir, None)
    cells = masks[0, ..., 0] >= 0.5
    count, regions = cv2.connectedComponents(cells.astype(np.uint8), connectivity=4)
    distances = np.sort(
        [cv2.distanceTransform((regions != r).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) for r in range(1, count)],
        axis=0,
    )
    expected = 1 + 10 * np.exp(-np.square(distances[0] + distances[1]) / (2 * 5**2))
    expected[cells] = 1
    np.testing.assert_allclose(unet_weight_map(cells, w0=10, sigma=5), expected, atol=1e-4)  # measured: 5e-6


def test_weight_map_refuses_what_is_not_one_mask():
    with pytest.raises(ValueError, match="one \\(H, W\\) mask"):
        unet_weight_map(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="sigma > 0"):
        unet_weight_map(two_cells(3), sigma=0)


def test_weight_maps_on_a_labelled_slice_sit_on_the_thin_membranes(membrane_dir):
    from segdemo.datasets import membrane

    _, masks = membrane.load_slices([0], membrane_dir, None)
    weights = weight_maps(masks)[0, ..., 0]
    membranes = masks[0, ..., 0] < 0.5
    assert weights.shape == membranes.shape
    assert (weights[~membranes] == 1).all()
    # Most membrane pixels separate two cells within a few pixels (measured on slice 0: 0.88 of them
    # weigh over 2), and the heaviest approach 1 + w0.
    assert np.mean(weights[membranes] > 2) > 0.6
    assert 9 < weights.max() <= 11
    # Keeping the membrane class's total: the same map divided by its mean over the membranes.
    kept = weight_maps(masks, keep_membrane_total=True)[0, ..., 0]
    assert kept[membranes].mean() == pytest.approx(1.0, abs=1e-5) and (kept[~membranes] == 1).all()
    np.testing.assert_allclose(kept[membranes] * weights[membranes].mean(), weights[membranes], rtol=1e-5)


def test_the_weights_follow_the_label_through_the_augmentation(membrane_dir):
    """Weights made of the mask itself, moved by an elastic deformation and the affine transform and
    reduced to 128×128, must come out as the reduced mask: they travel as one more channel."""
    from segdemo.datasets import membrane
    from segdemo.distortions import Distortions

    images, masks = membrane.load_slices([0, 1, 2], membrane_dir, None)
    distortions = Distortions(rotation_degrees=10, zoom=0.2, horizontal_flip=True, elastic=10, contrast=0.3)
    augmenter = PairedAugmenter("membrane", seed=4, output_size=128, distortions=distortions, soft_masks=True)
    augmented_images, augmented_masks, augmented_weights = (np.asarray(a) for a in augmenter(images, masks, weights=masks))
    assert augmented_weights.shape == (3, 128, 128)
    # The mask is binarized before its reduction and the weights are not: they differ by the
    # interpolated edges only (measured: 0.010 on average, at most 0.18).
    difference = np.abs(augmented_weights - augmented_masks[..., 0])
    assert difference.mean() < 0.02 and difference.max() < 0.3
    # ... and far from the mask before the transform (measured: 0.34 on average).
    assert np.abs(augmented_weights - masks[:, ::4, ::4, 0]).mean() > 0.2
    # Without weights the augmentation gives what it always gave.
    plain_images, plain_masks = augmenter(images, masks)
    np.testing.assert_array_equal(np.asarray(plain_masks), augmented_masks)


def test_the_dataset_yields_sample_weights_for_fit(membrane_dir):
    from segdemo.datasets import membrane

    images, masks = membrane.load_slices([0, 1, 2, 3], membrane_dir, None)
    weights = weight_maps(masks)
    batch = next(
        iter(
            augmented_dataset(
                images,
                masks,
                preset="membrane",
                batch_size=4,
                seed=2,
                output_size=128,
                distortions=MEMBRANE_TRAINING,
                weights=weights,
            )
        )
    )
    batch_images, batch_masks, batch_weights = (tensor.numpy() for tensor in batch)
    assert batch_weights.shape == (4, 128, 128)
    # Reduced by area: heavier on the (reduced) membranes than inside the cells.
    assert batch_weights[batch_masks[..., 0] < 0.5].mean() > 2 * batch_weights[batch_masks[..., 0] == 1].mean()
    with pytest.raises(ValueError, match="shaped like the masks"):
        augmented_dataset(images, masks, preset="membrane", batch_size=4, seed=2, weights=weights[:, ::2])
