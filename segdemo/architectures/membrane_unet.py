"""The lecture's membrane U-Net for ISBI-2012 electron microscopy (program 7), and its no-skip ablation."""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="segdemo")
class MirrorBorder(layers.Layer):
    """Pads each side of the image by `pixels` with its own mirror image (the edge row repeated
    once, as `numpy.pad(mode="symmetric")`): the U-Net paper's overlap-tile strategy, which gives
    the network context at the borders of a slice instead of zeros."""

    def __init__(self, pixels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if pixels < 0:
            raise ValueError(f"pixels must be 0 or more, not {pixels}.")
        self.pixels = int(pixels)

    def call(self, inputs):
        side = self.pixels
        return keras.ops.pad(inputs, [[0, 0], [side, side], [side, side], [0, 0]], mode="symmetric")

    def compute_output_shape(self, input_shape):
        grown = [None if size is None else size + 2 * self.pixels for size in input_shape[1:3]]
        return (input_shape[0], *grown, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "pixels": self.pixels}


def _conv_block(x, filters: int, prefix: str):
    """Two 3×3 convolutions, each followed by BatchNormalization and ReLU."""
    for index in (1, 2):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{prefix}_conv{index}"
        )(x)
        # momentum 0.9 (Keras' default is 0.99): with 20 training slices the moving
        # statistics must catch up within a few hundred steps, or validation lags far behind.
        x = layers.BatchNormalization(momentum=0.9, name=f"{prefix}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{prefix}_relu{index}")(x)
    return x


def build_membrane_unet(
    base_filters: int = 64,
    input_size: tuple[int, int] = (128, 128),
    skip_connections: bool = True,
    dropout: float = 0.5,
    mirror: int = 0,
    name: str = "membrane_unet",
    output_dtype: str | None = None,
) -> keras.Model:
    """Builds the U-Net of lecture program 7.

    Four levels of two 3×3 convolutions with BatchNormalization (64-128-256-512 filters at
    the lecture's width), three 2×2 max-poolings, Dropout 0.5 after the two deepest levels,
    up-sampling followed by a 2×2 convolution on the way up, and a 1×1 sigmoid output.
    As in the lecture (and zhixuhao/unet) the output is the probability of *cell interior*
    (label 255); membranes are where it is low.

    Args:
        base_filters: filters of the first level (64 in the lecture); a smaller value is a
            width multiplier for CPU training (the filters double at each level).
        input_size: (height, width) of the grey input.
        skip_connections: False builds the lecture exercise's ablation: the same network
            with the skip connections removed.
        dropout: dropout rate after the two deepest levels.
        mirror: pixels mirrored on each side of the input before the first convolution and
            cropped from the output after the last (`MirrorBorder`, the U-Net paper's overlap-tile
            strategy); a multiple of 8, so the three poolings still divide the grown input.
            0 builds the lecture's network, whose convolutions see zeros beyond the slice.
        name: the model's name.
        output_dtype: the output layer's dtype policy (None: Keras' global one). Mixed-precision
            training builds the network under "mixed_bfloat16" with "float32" here, so that the
            sigmoid and the loss keep float32's resolution near 0 and 1 (bfloat16 has 8 bits).

    Returns:
        A Keras model mapping (batch, H, W, 1) to (batch, H, W, 1) in [0, 1].
    """
    if mirror % 8:
        raise ValueError(f"mirror must be a multiple of 8 (the three poolings), not {mirror}.")
    inputs = keras.Input(shape=(*input_size, 1), name="image")
    x = MirrorBorder(mirror, name="mirror_border")(inputs) if mirror else inputs
    skips = []
    depth = 4
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, f"down{level + 1}")
        if level >= depth - 2:
            x = layers.Dropout(dropout, name=f"down{level + 1}_dropout")(x)
        if level < depth - 1:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    for level in reversed(range(depth - 1)):
        filters = base_filters * 2**level
        x = layers.UpSampling2D(2, name=f"upsample{level + 1}")(x)
        x = layers.Conv2D(
            filters, 2, padding="same", activation="relu", kernel_initializer="he_normal", name=f"up{level + 1}_conv0"
        )(x)
        if skip_connections:
            x = layers.Concatenate(name=f"skip{level + 1}")([skips[level], x])
        x = _conv_block(x, filters, f"up{level + 1}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="cell_probability", dtype=output_dtype)(x)
    if mirror:
        outputs = layers.Cropping2D(mirror, name="crop_border", dtype=output_dtype)(outputs)
    return keras.Model(inputs, outputs, name=name)
