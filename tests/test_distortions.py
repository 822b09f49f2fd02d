"""One range per distortion (the augmentation preview's controls): each on its own or together."""

from __future__ import annotations

import numpy as np
import pytest

from segdemo import samples
from segdemo.distortions import LECTURE_DISTORTIONS, Distortions


@pytest.fixture(scope="module")
def pairs():
    """The shipped eliret training pairs (no dataset needed), 32×32."""
    return samples.augmentation_pairs("eliret", 4)


def augment(pairs, distortions, seed=3):
    from segdemo.augment import preview

    images, masks = pairs
    return preview(images, masks, preset="eliret", seed=seed, distortions=distortions)


def test_all_off_is_the_identity(pairs):
    images, masks = pairs
    augmented_images, augmented_masks = augment(pairs, Distortions())
    np.testing.assert_allclose(augmented_images, images, atol=1e-6)
    assert np.array_equal(augmented_masks, masks)


def test_flip_alone_mirrors_or_keeps_each_pair_exactly(pairs):
    images, masks = pairs
    augmented_images, augmented_masks = augment(pairs, Distortions(horizontal_flip=True), seed=11)
    mirrored = 0
    for index in range(len(images)):
        same = np.allclose(augmented_images[index], images[index], atol=1e-6)
        flipped = np.allclose(augmented_images[index], images[index][:, ::-1], atol=1e-6)
        assert same or flipped, index
        assert np.array_equal(augmented_masks[index], masks[index] if same else masks[index][:, ::-1])
        mirrored += flipped and not same
    assert mirrored >= 1


@pytest.mark.parametrize(
    "one",
    [
        Distortions(rotation_degrees=30),
        Distortions(shift=0.3),
        Distortions(shear_degrees=30),
        Distortions(zoom=0.3),
        Distortions(elastic=3),
    ],
    ids=["rotation", "shift", "shear", "zoom", "elastic"],
)
def test_each_distortion_alone_changes_image_and_mask_together(pairs, one):
    images, masks = pairs
    augmented_images, augmented_masks = augment(pairs, one)
    assert not np.allclose(augmented_images, images, atol=1e-3)
    assert set(np.unique(augmented_masks)) <= {0.0, 1.0}
    # Same transform for both: transforming the masks as "images" gives the masks' result.
    as_images, _ = augment((masks, masks), one)
    assert np.array_equal(np.asarray(as_images) >= 0.5, augmented_masks > 0)


def test_lecture_settings():
    assert LECTURE_DISTORTIONS["eliret"] == Distortions(shift=0.7, horizontal_flip=True)
    assert LECTURE_DISTORTIONS["membrane"].horizontal_flip is False  # as the lecture's aug_dict for membranes


@pytest.mark.parametrize(
    "arguments",
    [
        {"rotation_degrees": -1},
        {"shift": 1.5},
        {"zoom": float("nan")},
        {"shear_degrees": "10"},
        {"horizontal_flip": 1},
        {"elastic": -2},
        {"brightness": 0.8},
        {"contrast": True},
        {"gamma": float("inf")},
    ],
)
def test_bad_ranges_are_refused(arguments):
    with pytest.raises(ValueError):
        Distortions(**arguments)


def test_preview_figure_for_both_datasets_with_chosen_distortions():
    for dataset in ("eliret", "membrane"):
        still = samples.augmentation_preview(dataset, 1, distortions=Distortions())
        moved = samples.augmentation_preview(dataset, 1, distortions=Distortions(rotation_degrees=40, zoom=0.3))
        assert still.shape == moved.shape and still.dtype == np.uint8
        assert not np.array_equal(still, moved)


def test_preview_shows_elastic_and_intensity_distortions():
    still = samples.augmentation_preview("membrane", 1, distortions=Distortions())
    elastic = samples.augmentation_preview("membrane", 1, distortions=Distortions(elastic=20))
    brighter = samples.augmentation_preview("membrane", 1, distortions=Distortions(brightness=0.3, contrast=0.5, gamma=0.5))
    cell = 128 + 8  # render.grid's default picture and gap
    # Columns: original image, original mask, augmented image, augmented mask, loss weights.
    assert still.shape[1] == 5 * cell + 8
    masks_still, masks_elastic, masks_brighter = (figure[:, 3 * cell :] for figure in (still, elastic, brighter))
    assert not np.array_equal(masks_elastic, masks_still)
    assert np.array_equal(masks_brighter, masks_still)  # intensity changes leave the labels (and weights) alone
    assert not np.array_equal(brighter[:, 2 * cell : 3 * cell], still[:, 2 * cell : 3 * cell])


def test_preview_weights_lie_on_the_augmented_membranes():
    """The loss weights' column (the U-Net paper's map) must follow the augmented mask: bright on its
    membranes (black), dark blue inside its cells, whatever the deformation."""
    cell, top = 128 + 8, 18 + 8  # render.grid's picture, gap and caption
    figure = samples.augmentation_preview("membrane", 3, distortions=Distortions(rotation_degrees=30, elastic=20))
    for row in range(4):
        y = top + row * cell
        mask = figure[y : y + 128, 8 + 3 * cell : 8 + 3 * cell + 128, 0]
        weights = figure[y : y + 128, 8 + 4 * cell : 8 + 4 * cell + 128].astype(int)
        brightness = weights[..., 0] + weights[..., 1]  # viridis: red and green grow with the value
        membranes, cells = mask < 64, mask > 192
        # Measured: 178–199 on the membranes against 77–78 (dark blue) inside the cells; against the
        # mask before the transform the same weights give 105–115 and 101–105 (no separation).
        assert brightness[membranes].mean() > brightness[cells].mean() + 50, row
