"""Paired augmentation: the same transform for image and mask, reproducible by seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from segdemo.augment import PairedAugmenter, augmented_dataset


@pytest.fixture(scope="module")
def pairs(eliret_dir):
    from segdemo.datasets import eliret

    images, masks = eliret.load_split("train", eliret_dir)
    return images[:16], masks[:16]


@pytest.mark.parametrize("preset", ["eliret", "membrane"])
def test_image_and_mask_get_the_same_transform(preset, pairs):
    _, masks = pairs
    # Augment the mask as both "image" and "mask": the two outputs must coincide exactly.
    as_image, as_mask = PairedAugmenter(preset, seed=5)(masks, masks)
    assert np.array_equal(np.asarray(as_image) >= 0.5, np.asarray(as_mask) > 0)
    assert not np.array_equal(np.asarray(as_mask), masks)  # something did change


def test_masks_stay_binary_and_images_in_range(pairs):
    images, masks = pairs
    augmented_images, augmented_masks = PairedAugmenter("eliret", seed=1)(images, masks)
    assert set(np.unique(np.asarray(augmented_masks))) <= {0.0, 1.0}
    assert 0.0 <= float(np.min(augmented_images)) and float(np.max(augmented_images)) <= 1.0


def test_same_seed_same_batch_other_seed_other_batch(pairs):
    images, masks = pairs
    first = next(iter(augmented_dataset(images, masks, preset="eliret", batch_size=8, seed=3)))
    again = next(iter(augmented_dataset(images, masks, preset="eliret", batch_size=8, seed=3)))
    other = next(iter(augmented_dataset(images, masks, preset="eliret", batch_size=8, seed=4)))
    assert np.array_equal(first[0].numpy(), again[0].numpy()) and np.array_equal(first[1].numpy(), again[1].numpy())
    assert not np.array_equal(first[0].numpy(), other[0].numpy())


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown augmentation preset"):
        PairedAugmenter("cityscapes")


def test_membrane_pairs_are_transformed_at_full_resolution_then_reduced_like_validation(membrane_dir):
    """With every range at zero, the training pipeline must give exactly the 128×128 slices the
    network is validated on: the same area reduction, the same mask re-binarization."""
    import tensorflow as tf

    from segdemo.augment import random_affine, shrink_pairs
    from segdemo.datasets import membrane

    full_images, full_masks = membrane.load_slices([20, 21], membrane_dir, None)
    small_images, small_masks = membrane.load_slices([20, 21], membrane_dir, 128)
    stacked = tf.concat([full_images, full_masks], axis=-1)
    identity = random_affine(
        stacked, tf.zeros([2, 2], tf.int32), rotation_degrees=0, shift=0, shear_degrees=0, zoom=0, horizontal_flip=False
    )
    images, masks = shrink_pairs(identity[..., :1], identity[..., 1:], 128)
    np.testing.assert_allclose(np.asarray(images), small_images, atol=1e-5)
    assert np.array_equal(np.asarray(masks), small_masks)


def test_membrane_augmenter_reduces_to_the_network_size(membrane_dir):
    from segdemo.datasets import membrane

    images, masks = membrane.load_slices([0, 1, 2], membrane_dir, None)
    batch = next(iter(augmented_dataset(images, masks, preset="membrane", batch_size=3, seed=2, output_size=128)))
    augmented_images, augmented_masks = (tensor.numpy() for tensor in batch)
    assert augmented_images.shape == augmented_masks.shape == (3, 128, 128, 1)
    assert set(np.unique(augmented_masks)) == {0.0, 1.0}
    # Still the same transform for both: membranes (label 0) lie on dark pixels.
    assert augmented_images[augmented_masks == 0].mean() < augmented_images[augmented_masks == 1].mean() - 0.1


def test_soft_membrane_masks_keep_each_reduced_pixels_coverage(membrane_dir):
    """With every range at zero, soft masks are exactly the validation slices' coverage
    fractions: the share of each 4×4 block (512 → 128) that is cell interior."""
    import tensorflow as tf

    from segdemo.augment import random_affine, shrink_pairs
    from segdemo.datasets import membrane

    full_images, full_masks = membrane.load_slices([20, 21], membrane_dir, None)
    _, soft = membrane.load_slices([20, 21], membrane_dir, 128, soft_masks=True)
    _, hard = membrane.load_slices([20, 21], membrane_dir, 128)
    blocks = full_masks[..., 0].reshape(2, 128, 4, 128, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(soft[..., 0], blocks, atol=1e-6)
    assert np.array_equal(soft >= 0.5, hard == 1)
    assert 0 < np.mean((soft > 0) & (soft < 1)) < 0.5  # membrane edges are fractional, the rest is not

    stacked = tf.concat([full_images, full_masks], axis=-1)
    identity = random_affine(
        stacked, tf.zeros([2, 2], tf.int32), rotation_degrees=0, shift=0, shear_degrees=0, zoom=0, horizontal_flip=False
    )
    _, masks = shrink_pairs(identity[..., :1], identity[..., 1:], 128, soft_masks=True)
    np.testing.assert_allclose(np.asarray(masks), soft, atol=1e-5)


def test_soft_augmented_membrane_masks_are_fractions_of_binary_ones(membrane_dir):
    from segdemo.datasets import membrane

    images, masks = membrane.load_slices([0, 1, 2], membrane_dir, None)
    batches = [
        next(iter(augmented_dataset(images, masks, preset="membrane", batch_size=3, seed=2, output_size=128, soft_masks=soft)))
        for soft in (False, True)
    ]
    (hard_images, hard_masks), (soft_images, soft_masks) = ([tensor.numpy() for tensor in batch] for batch in batches)
    np.testing.assert_allclose(soft_images, hard_images, atol=1e-6)  # the same transforms
    assert set(np.unique(soft_masks * 16)) <= set(range(17))  # a 4×4 block's share, in sixteenths
    assert np.mean((soft_masks > 0) & (soft_masks < 1)) > 0.05
    # Binarizing at full resolution first and reducing after agrees with reducing then binarizing
    # except where a block is split about evenly.
    assert np.mean((soft_masks >= 0.5) == (hard_masks == 1)) > 0.97


def test_elastic_deformation_moves_image_and_mask_together(membrane_dir):
    """Elastic displacements (the U-Net paper's) on their own: the mask augmented as an "image"
    must give the mask's own result, so the label follows every displaced pixel."""
    from segdemo.augment import PairedAugmenter
    from segdemo.datasets import membrane
    from segdemo.distortions import Distortions

    images, masks = membrane.load_slices([0, 1], membrane_dir, None)
    elastic = PairedAugmenter("membrane", seed=4, distortions=Distortions(elastic=10))
    augmented_images, augmented_masks = (np.asarray(array) for array in elastic(images, masks))
    as_image, _ = elastic(masks, masks)
    assert np.array_equal(np.asarray(as_image) >= 0.5, augmented_masks > 0)
    assert set(np.unique(augmented_masks)) == {0.0, 1.0}
    changed = np.mean(augmented_masks != masks)
    assert 0.02 < changed < 0.3  # a deformation, not a new slice
    # Membranes (label 0) still lie on the dark pixels of the deformed slice.
    assert augmented_images[augmented_masks == 0].mean() < augmented_images[augmented_masks == 1].mean() - 0.1
    # Smooth: neighbouring pixels move together, so a membrane stays one piece (no speckle).
    assert np.mean(augmented_masks[:, 1:] != augmented_masks[:, :-1]) < 1.5 * np.mean(masks[:, 1:] != masks[:, :-1])


def test_elastic_displacements_are_smooth_and_of_the_asked_size():
    import tensorflow as tf

    from segdemo.augment import elastic_displacements

    seeds = tf.constant([[1, 2], [3, 4], [5, 6], [7, 8]], tf.int32)
    small = np.asarray(elastic_displacements(seeds, 256, 256, 2.0))
    large = np.asarray(elastic_displacements(seeds, 256, 256, 10.0))
    assert small.shape == (4, 256, 256, 2)
    np.testing.assert_allclose(large, small * 5, rtol=1e-4, atol=1e-4)  # the same draws, scaled
    assert 3 < np.std(large) < 15
    # Interpolated from a 3×3 grid: neighbours move by nearly the same vector (under a pixel apart).
    assert np.abs(np.diff(large, axis=1)).max() < 1.0 and np.abs(np.diff(large, axis=2)).max() < 1.0


def test_intensity_changes_leave_the_mask_where_it_was(membrane_dir):
    from segdemo.augment import PairedAugmenter
    from segdemo.datasets import membrane
    from segdemo.distortions import Distortions

    images, masks = membrane.load_slices([0, 1, 2, 3], membrane_dir, None)
    for distortion in (Distortions(brightness=0.2), Distortions(contrast=0.5), Distortions(gamma=0.5)):
        augmented_images, augmented_masks = (
            np.asarray(array) for array in PairedAugmenter("membrane", seed=9, distortions=distortion)(images, masks)
        )
        assert np.array_equal(augmented_masks, masks), distortion
        assert 0.0 <= augmented_images.min() and augmented_images.max() <= 1.0
        shifts = np.abs(augmented_images - images).mean(axis=(1, 2, 3))
        assert shifts.max() > 0.03 and np.ptp(shifts) > 0.01, distortion  # changed, by one draw per slice
        # Monotone: a pixel brighter than another stays at least as bright (up to clipping).
        for index in range(len(images)):
            order = np.argsort(images[index].ravel())[::997]
            assert (np.diff(augmented_images[index].ravel()[order]) >= -1e-6).all(), distortion


def test_training_with_elastic_and_intensity_keeps_soft_labels_as_fractions(membrane_dir):
    from segdemo.augment import MEMBRANE_TRAINING
    from segdemo.datasets import membrane

    images, masks = membrane.load_slices([0, 1, 2], membrane_dir, None)
    distortions = dataclasses.replace(MEMBRANE_TRAINING, elastic=10, brightness=0.1, contrast=0.2, gamma=0.2)
    batches = [
        next(
            iter(
                augmented_dataset(
                    images, masks, preset="membrane", batch_size=3, seed=2, output_size=128, soft_masks=True, distortions=chosen
                )
            )
        )
        for chosen in (MEMBRANE_TRAINING, distortions)
    ]
    (plain_images, plain_masks), (new_images, new_masks) = ([tensor.numpy() for tensor in batch] for batch in batches)
    assert new_images.shape == new_masks.shape == (3, 128, 128, 1)
    assert set(np.unique(new_masks * 16)) <= set(range(17))  # still a 4×4 block's share
    assert np.mean((new_masks > 0) & (new_masks < 1)) > 0.05
    assert not np.allclose(new_masks, plain_masks)  # the elastic part moved the labels
    # ... and the image with them: membranes (cell share below a half) on the dark pixels.
    assert new_images[new_masks < 0.5].mean() < new_images[new_masks >= 0.5].mean() - 0.1


def test_the_eight_symmetries_move_slice_and_label_exactly_together(membrane_dir):
    """--symmetries alone: each sample is one of the square's eight flips and quarter turns, with no
    interpolation, its label the same view of the label; over a batch, more than the left-right flip."""
    from segdemo.datasets import membrane
    from segdemo.distortions import Distortions

    images, masks = membrane.load_slices([0] * 12, membrane_dir, 128)
    augmenter = PairedAugmenter("membrane", seed=5, distortions=Distortions(horizontal_flip=True, symmetries=True))
    augmented_images, augmented_masks = (np.asarray(array) for array in augmenter(images, masks))
    views = []
    for image, mask in zip(augmented_images, augmented_masks):
        matches = [
            (turns, mirrored)
            for turns in range(4)
            for mirrored in (False, True)
            if np.allclose(image, _view(images[0], turns, mirrored), atol=1e-5)
            and np.array_equal(mask, _view(masks[0], turns, mirrored))
        ]
        assert matches, "neither one of the eight views of the slice, or the label did not follow"
        views.append(matches[0])
    assert len(set(views)) >= 4  # quarter turns and vertical mirrors, not only the horizontal flip


def _view(array: np.ndarray, turns: int, mirrored: bool) -> np.ndarray:
    turned = np.rot90(array, turns, axes=(0, 1))
    return turned[:, ::-1] if mirrored else turned
