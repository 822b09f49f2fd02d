"""Paired image/mask augmentation with Keras preprocessing layers.

`ImageDataGenerator` (the lecture's `aug_dict`) is gone from Keras 3. Here image and mask are
stacked along the channel axis and sent through one stack of random layers, so both receive
exactly the same transform; the mask is then re-binarized at 0.5 because interpolation
blurs its edges.

Membrane slices are transformed at their full 512×512 resolution and only then reduced to the
network's 128×128 by area averaging, the way the validation slices and `predict()`'s inputs are
reduced (`segdemo.datasets.membrane.load_slices`). Transforming the 128×128 copies instead
resamples them a second time: the training images come out blurrier than anything the network
is later shown, and thin membranes in the masks break up differently from the validation masks.
Measured on slices 20–24 (16 base filters, 30 epochs of 40 batches of 8): validation accuracy
0.906 with the transform at 128×128, 0.920 with it at 512×512.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict

import keras
import numpy as np
import tensorflow as tf

from segdemo.distortions import AFFINE_FIELDS, LECTURE_DISTORTIONS, Distortions  # noqa: F401  (re-exported)


def eliret_layers(seed: int) -> list[keras.layers.Layer]:
    """The lecture's eliret `aug_dict`: shifts up to ±70 %, horizontal flips, reflect fill."""
    return [
        keras.layers.RandomTranslation(0.7, 0.7, fill_mode="reflect", interpolation="bilinear", seed=seed),
        keras.layers.RandomFlip("horizontal", seed=seed + 1),
    ]


# The lecture's membrane aug_dict: rotation ±10°, shifts ±5 %, shear 10°, zoom ±20 %,
# horizontal flips, reflect fill. Applied as ONE affine resampling, as ImageDataGenerator did:
# chaining four Keras layers resamples four times and blurs the slices (their standard deviation
# dropped by a fifth), so BatchNormalization learned statistics the sharp validation slices lack.
MEMBRANE_AFFINE = {"rotation_degrees": 10.0, "shift": 0.05, "shear_degrees": 10.0, "zoom": 0.2}
# What membrane training draws from unless told otherwise: the lecture's ranges, flipped too.
MEMBRANE_TRAINING = Distortions(**MEMBRANE_AFFINE, horizontal_flip=True)
# The U-Net paper's elastic deformation: a 3×3 grid of displacement vectors.
ELASTIC_GRID = 3


def _draw(seeds: tf.Tensor, offset: int, low, high) -> tf.Tensor:
    """One uniform number per sample in [low, high), from each sample's stateless seed + offset."""
    return tf.map_fn(
        lambda seed: tf.random.stateless_uniform([], seed + offset, low, high), seeds, fn_output_signature=tf.float32
    )


def random_affine(
    stacked: tf.Tensor,
    seeds: tf.Tensor,
    rotation_degrees: float,
    shift: float,
    shear_degrees: float,
    zoom: float,
    horizontal_flip: bool = True,
    symmetries: bool = False,
    elastic: float = 0.0,
) -> tf.Tensor:
    """One random affine transform (and horizontal flip, and elastic deformation) per sample,
    in a single resampling.

    Args:
        stacked: (batch, H, W, C) images (image and mask channels stacked).
        seeds: (batch, 2) int32 stateless seeds, one pair per sample.
        rotation_degrees, shift, shear_degrees, zoom: the ranges, as `ImageDataGenerator`'s
            rotation_range, width/height_shift_range, shear_range (in degrees) and zoom_range.
        horizontal_flip: whether half of the samples are mirrored left to right.
        symmetries: whether each sample is also turned by a random multiple of 90° and mirrored top to
            bottom half of the time (with `horizontal_flip`: the square's eight symmetries), folded
            into the same map, so no extra resampling.
        elastic: standard deviation in pixels of the elastic displacements (0: none); each output
            pixel is displaced by them before the affine map, and the composed map is sampled once.
    """
    batch = tf.shape(stacked)[0]
    height = tf.cast(tf.shape(stacked)[1], tf.float32)
    width = tf.cast(tf.shape(stacked)[2], tf.float32)

    draw = functools.partial(_draw, seeds)
    angle = draw(0, -rotation_degrees, rotation_degrees) * (math.pi / 180)
    shear = draw(1, -shear_degrees, shear_degrees) * (math.pi / 180)
    zoom_x = draw(2, 1 - zoom, 1 + zoom)
    zoom_y = draw(3, 1 - zoom, 1 + zoom)
    shift_x = draw(4, -shift, shift) * width
    shift_y = draw(5, -shift, shift) * height
    flip = tf.where(draw(6, 0.0, 1.0) < 0.5, -1.0, 1.0) if horizontal_flip else tf.ones([batch])
    # Output-to-input mapping around the centre: input = A · F · (out − c) + c + t,
    # with A = rotation · shear · zoom and F a horizontal mirror when flip = −1.
    a00 = (tf.cos(angle) / zoom_x) * flip
    a01 = (-tf.sin(angle + shear)) / zoom_y
    a10 = (tf.sin(angle) / zoom_x) * flip
    a11 = tf.cos(angle + shear) / zoom_y
    if symmetries:
        # A · S with S = (a quarter turn k times) · (a vertical mirror when v = −1): entries
        # exactly 0 and ±1, so a slice with no other distortion is moved without interpolation.
        quarter_turns = tf.floor(draw(11, 0.0, 4.0))
        cos_k = tf.round(tf.cos(quarter_turns * (math.pi / 2)))
        sin_k = tf.round(tf.sin(quarter_turns * (math.pi / 2)))
        mirror = tf.where(draw(12, 0.0, 1.0) < 0.5, -1.0, 1.0)
        s00, s01, s10, s11 = cos_k, -sin_k * mirror, sin_k, cos_k * mirror
        a00, a01, a10, a11 = a00 * s00 + a01 * s10, a00 * s01 + a01 * s11, a10 * s00 + a11 * s10, a10 * s01 + a11 * s11
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    a02 = centre_x + shift_x - a00 * centre_x - a01 * centre_y
    a12 = centre_y + shift_y - a10 * centre_x - a11 * centre_y
    zeros = tf.zeros([batch])
    transforms = tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)
    if elastic:
        return _resample(stacked, transforms, elastic_displacements(seeds, tf.shape(stacked)[1], tf.shape(stacked)[2], elastic))
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=stacked,
        transforms=transforms,
        output_shape=tf.shape(stacked)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def elastic_displacements(seeds: tf.Tensor, height, width, sigma: float, grid: int = ELASTIC_GRID) -> tf.Tensor:
    """Per-pixel displacements (batch, H, W, 2) as (dx, dy): normal vectors of standard deviation
    `sigma` pixels on a grid×grid lattice, interpolated bicubically (the U-Net paper's recipe)."""
    coarse = tf.map_fn(
        lambda seed: tf.random.stateless_normal([grid, grid, 2], seed + 7, stddev=sigma), seeds, fn_output_signature=tf.float32
    )
    return tf.image.resize(coarse, tf.stack([height, width]), method="bicubic")


def _reflect(index: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Integer indices folded into [0, size) as (d c b a | a b c d | d c b a), like fill_mode="reflect"."""
    period = 2 * size
    index = tf.math.floormod(index, period)
    return tf.where(index >= size, period - 1 - index, index)


def _resample(stacked: tf.Tensor, transforms: tf.Tensor, displacements: tf.Tensor) -> tf.Tensor:
    """Bilinear sampling of `stacked` at input = A · (out + displacement) + t, reflect fill.

    `transforms` are ImageProjectiveTransform's rows (a00 a01 a02 a10 a11 a12 0 0); the displacements
    come first so that the composed map is sampled once (each resampling blurs the slice).
    """
    height, width = tf.shape(stacked)[1], tf.shape(stacked)[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    x = xs[None] + displacements[..., 0]
    y = ys[None] + displacements[..., 1]
    row = transforms[:, :, None, None]
    source_x = row[:, 0] * x + row[:, 1] * y + row[:, 2]
    source_y = row[:, 3] * x + row[:, 4] * y + row[:, 5]
    x0, y0 = tf.floor(source_x), tf.floor(source_y)
    weight_x, weight_y = (source_x - x0)[..., None], (source_y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    batch_index = tf.broadcast_to(tf.range(tf.shape(stacked)[0])[:, None, None], tf.shape(x0))

    def pick(dy, dx):
        indices = tf.stack([batch_index, _reflect(y0 + dy, height), _reflect(x0 + dx, width)], axis=-1)
        return tf.gather_nd(stacked, indices)

    top = pick(0, 0) * (1 - weight_x) + pick(0, 1) * weight_x
    bottom = pick(1, 0) * (1 - weight_x) + pick(1, 1) * weight_x
    return top * (1 - weight_y) + bottom * weight_y


def random_intensity(images: tf.Tensor, seeds: tf.Tensor, brightness: float, contrast: float, gamma: float) -> tf.Tensor:
    """One random gamma, contrast and brightness change per sample, for the image channels only.

    Args:
        images: (batch, H, W, C) intensities in [0, 1].
        seeds: (batch, 2) int32 stateless seeds (those of the geometric transform: other draws).
        brightness, contrast, gamma: the ranges, as `segdemo.distortions.Distortions` describes them.
    """
    if not (brightness or contrast or gamma):
        return images
    images = tf.clip_by_value(images, 0.0, 1.0)
    if gamma:
        images = tf.pow(images, _draw(seeds, 8, 1.0 - gamma, 1.0 + gamma)[:, None, None, None])
    if contrast:
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        images = (images - mean) * _draw(seeds, 9, 1.0 - contrast, 1.0 + contrast)[:, None, None, None] + mean
    if brightness:
        images = images + _draw(seeds, 10, -brightness, brightness)[:, None, None, None]
    return tf.clip_by_value(images, 0.0, 1.0)


PRESETS = ("eliret", "membrane")


def _clip_and_binarize(images, masks) -> tuple[tf.Tensor, tf.Tensor]:
    """Images back into [0, 1]; masks re-binarized at 0.5 (interpolation blurs their edges)."""
    return tf.clip_by_value(images, 0.0, 1.0), tf.cast(masks >= 0.5, tf.float32)


def shrink_pairs(images, masks, size: int, soft_masks: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
    """Images and masks reduced to size×size by area averaging; masks re-binarized at 0.5.

    For 512 → 128 this is exactly OpenCV's INTER_AREA, which `membrane.load_slices` uses.
    With `soft_masks` the masks are binarized at full resolution and then reduced, keeping
    each reduced pixel's coverage (0.25, 0.5, ...): a network trained on those places a thin
    membrane's edges between its own pixels once its scores are resized back up.
    """
    images = tf.image.resize(tf.convert_to_tensor(images, tf.float32), (size, size), method="area")
    masks = tf.convert_to_tensor(masks, tf.float32)
    if soft_masks:
        masks = tf.cast(masks >= 0.5, tf.float32)
    masks = tf.image.resize(masks, (size, size), method="area")
    if soft_masks:
        return tf.clip_by_value(images, 0.0, 1.0), tf.clip_by_value(masks, 0.0, 1.0)
    return _clip_and_binarize(images, masks)


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
        output_size: when set, the transformed pairs are then reduced to output_size ×
            output_size (`shrink_pairs`): the transform runs at the input's full resolution.
        distortions: when given, these ranges replace the preset's transforms, as one
            resampling with reflect fill for either dataset, then the intensity changes (the
            augmentation preview's controls; membrane training with --elastic and the like).
        soft_masks: with `output_size`, the reduced masks keep their coverage fractions
            instead of being re-binarized (`shrink_pairs`).
    """

    def __init__(
        self,
        preset: str,
        seed: int = 7,
        output_size: int | None = None,
        distortions: Distortions | None = None,
        soft_masks: bool = False,
    ) -> None:
        if preset not in PRESETS:
            raise ValueError(f"Unknown augmentation preset {preset!r}; choose one of {', '.join(PRESETS)}.")
        if output_size is not None and output_size < 1:
            raise ValueError(f"output_size must be positive, got {output_size}.")
        if distortions is not None and not isinstance(distortions, Distortions):
            raise ValueError(f"distortions must be a Distortions, got {type(distortions).__name__}.")
        self.preset = preset
        self.distortions = distortions
        self.layers = eliret_layers(seed) if preset == "eliret" and distortions is None else []
        self.seed = seed
        self.output_size = output_size
        self.soft_masks = soft_masks

    def __call__(self, images, masks, seeds=None, weights=None):
        """Augments (batch, H, W, C) images and (batch, H, W, 1) masks together.

        `seeds` ((batch, 2) int32) drive the membrane transform; when None they are drawn
        from the augmenter's seed (eager use: previews and tests). `weights` ((batch, H, W, 1)
        per-pixel loss weights, `segdemo.border_weights`) are moved with the mask and reduced by
        area averaging, and returned third, as (batch, h, w) for Keras' `sample_weight`.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        masks = tf.convert_to_tensor(masks, tf.float32)
        channels = images.shape[-1]
        if weights is not None:
            # One more channel of the stack, so that the weights follow the mask exactly.
            masks = tf.concat([masks, tf.convert_to_tensor(weights, tf.float32)], axis=-1)
        stacked = tf.concat([images, masks], axis=-1)
        if self.preset == "membrane" or self.distortions is not None:
            if seeds is None:
                seeds = np.random.default_rng(self.seed).integers(0, 2**31 - 1, size=(images.shape[0], 2))
            seeds = tf.cast(seeds, tf.int32)
            ranges = asdict(self.distortions) if self.distortions is not None else MEMBRANE_AFFINE
            geometric = {name: ranges[name] for name in (*AFFINE_FIELDS, "elastic") if name in ranges}
            stacked = random_affine(stacked, seeds, **geometric)
        for layer in self.layers:
            stacked = layer(stacked, training=True)
        images, masks = stacked[..., :channels], stacked[..., channels:]
        if weights is not None:
            masks, weights = masks[..., :1], masks[..., 1:]
        if self.distortions is not None:
            images = random_intensity(
                images, seeds, self.distortions.brightness, self.distortions.contrast, self.distortions.gamma
            )
        if self.output_size is not None:
            pair = shrink_pairs(images, masks, self.output_size, self.soft_masks)
            if weights is not None:
                weights = tf.image.resize(weights, (self.output_size, self.output_size), method="area")
        else:
            pair = _clip_and_binarize(images, masks)
        return pair if weights is None else (*pair, weights[..., 0])


def augmented_dataset(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    preset: str,
    batch_size: int,
    seed: int,
    output_size: int | None = None,
    soft_masks: bool = False,
    distortions: Distortions | None = None,
    weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """A tf.data pipeline over one epoch: shuffle, batch, augment (same transform for the pair).

    `output_size` (membrane: the network's 128): the pairs are given at full resolution,
    transformed there, then reduced to it, keeping coverage fractions with `soft_masks`
    (see `PairedAugmenter`). `distortions` replace the preset's transforms (membrane training's
    elastic and intensity options: `MEMBRANE_TRAINING` with those ranges set). `weights`
    (membrane only): per-pixel loss weights shaped like `masks`, transformed with them; the
    batches are then (images, masks, weights), which `fit` takes as its `sample_weight`.
    """
    augmenter = PairedAugmenter(preset, seed, output_size, distortions, soft_masks=soft_masks)
    arrays = (images.astype(np.float32), masks.astype(np.float32))
    if weights is not None:
        if preset == "eliret" and distortions is None:
            raise ValueError("Loss weights need the membrane preset or explicit distortions.")
        if weights.shape != masks.shape:
            raise ValueError(f"weights must be shaped like the masks {masks.shape}, got {weights.shape}.")
        arrays = (*arrays, weights.astype(np.float32))
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if preset == "eliret" and distortions is None:
        return dataset.map(augmenter, num_parallel_calls=1).prefetch(2)
    # One stateless seed pair per sample, from a seeded stream: reproducible batches.
    seeds = tf.data.Dataset.random(seed=seed).batch(2).batch(batch_size)

    def augment(batch, batch_seeds):
        sample_weights = batch[2] if len(batch) == 3 else None
        return augmenter(batch[0], batch[1], batch_seeds[: tf.shape(batch[0])[0]], weights=sample_weights)

    return tf.data.Dataset.zip((dataset, seeds)).map(augment, num_parallel_calls=1).prefetch(2)


def preview(
    images: np.ndarray,
    masks: np.ndarray,
    *,
    preset: str,
    seed: int,
    output_size: int | None = None,
    distortions: Distortions | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Augmented copies of a few pairs, for the app's augmentation preview.

    Args:
        distortions: the ranges to draw from (None: the preset's training transforms).
        weights: per-pixel loss weights shaped like `masks` (`segdemo.border_weights`), moved
            with them and returned third, (N, h, w), as training receives them.
    """
    augmented = PairedAugmenter(preset, seed, output_size, distortions)(images, masks, weights=weights)
    return tuple(np.asarray(array) for array in augmented)
