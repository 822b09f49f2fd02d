"""Paired image/mask augmentation with Keras preprocessing layers.

`ImageDataGenerator` (the lecture's `aug_dict`) is gone from Keras 3. Here image and mask are
stacked along the channel axis and sent through one stack of random layers, so both receive
exactly the same transform; the mask is then re-binarized at 0.5 because interpolation
blurs its edges.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


def eliret_layers(seed: int) -> list[keras.layers.Layer]:
    """The lecture's eliret `aug_dict`: shifts up to ±70 %, horizontal flips, reflect fill."""
    return [
        keras.layers.RandomTranslation(0.7, 0.7, fill_mode="reflect", interpolation="bilinear", seed=seed),
        keras.layers.RandomFlip("horizontal", seed=seed + 1),
    ]


def membrane_layers(seed: int) -> list[keras.layers.Layer]:
    """The lecture's membrane `aug_dict`: rotation ±10°, shifts ±5 %, shear 10°, zoom ±20 %,
    horizontal flips, reflect fill."""
    return [
        keras.layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed),
        keras.layers.RandomTranslation(0.05, 0.05, fill_mode="reflect", seed=seed + 1),
        # RandomShear takes the shear as a fraction of the side; tan(10°) ≈ 0.176.
        keras.layers.RandomShear(x_factor=math.tan(math.radians(10)), y_factor=0.0, fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomZoom(0.2, 0.2, fill_mode="reflect", seed=seed + 3),
        keras.layers.RandomFlip("horizontal", seed=seed + 4),
    ]


PRESETS = {"eliret": eliret_layers, "membrane": membrane_layers}


def symmetric_dataset(images: np.ndarray, masks: np.ndarray, *, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled batches of random 90° rotations and mirror images of each pair (8 symmetries).

    These transforms keep a centred ellipse or axis-aligned rectangle centred and exact (no
    interpolation), so they enlarge the 100 training pairs without teaching the model
    anything about off-centre objects: the plain models stay "plain" in the lecture's sense.
    """
    pairs = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), masks.astype(np.float32)))
    pairs = pairs.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    # One stateless seed per element: the same seed gives the same sequence of batches.
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def transform(pair, element_seed):
        image, mask = pair
        quarter_turns = tf.random.stateless_uniform([], tf.cast(element_seed, tf.int32), 0, 4, dtype=tf.int32)
        mirrored = tf.random.stateless_uniform([], tf.cast(element_seed, tf.int32) + 1) < 0.5
        stacked = tf.image.rot90(tf.concat([image, mask], axis=-1), quarter_turns)
        stacked = tf.cond(mirrored, lambda: tf.image.flip_left_right(stacked), lambda: stacked)
        return stacked[..., :1], stacked[..., 1:]

    return tf.data.Dataset.zip((pairs, seeds)).map(transform).batch(batch_size).prefetch(2)


class PairedAugmenter:
    """Applies one random transform per sample to an image batch and its mask batch.

    Args:
        preset: "eliret" or "membrane" (which transforms, as the lecture's `aug_dict`s).
        seed: the same seed gives the same sequence of batches.
    """

    def __init__(self, preset: str, seed: int = 7) -> None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown augmentation preset {preset!r}; choose one of {', '.join(PRESETS)}.")
        self.preset = preset
        self.layers = PRESETS[preset](seed)

    def __call__(self, images, masks):
        """Augments (batch, H, W, C) images and (batch, H, W, 1) masks together."""
        images = tf.convert_to_tensor(images, tf.float32)
        masks = tf.convert_to_tensor(masks, tf.float32)
        channels = images.shape[-1]
        stacked = tf.concat([images, masks], axis=-1)
        for layer in self.layers:
            stacked = layer(stacked, training=True)
        augmented_images = tf.clip_by_value(stacked[..., :channels], 0.0, 1.0)
        augmented_masks = tf.cast(stacked[..., channels:] >= 0.5, tf.float32)
        return augmented_images, augmented_masks


def augmented_dataset(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    preset: str,
    batch_size: int,
    seed: int,
) -> tf.data.Dataset:
    """An endless-per-epoch tf.data pipeline: shuffle, batch, augment (same transform for the pair)."""
    augmenter = PairedAugmenter(preset, seed)
    dataset = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), masks.astype(np.float32)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return dataset.map(augmenter, num_parallel_calls=1).prefetch(2)


def preview(images: np.ndarray, masks: np.ndarray, *, preset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Augmented copies of a few pairs, for the app's augmentation preview."""
    augmented_images, augmented_masks = PairedAugmenter(preset, seed)(images, masks)
    return np.asarray(augmented_images), np.asarray(augmented_masks)
