"""Paired augmentation: the same transform for image and mask, reproducible by seed."""

from __future__ import annotations

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
