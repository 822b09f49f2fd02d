"""The lecture's U-Net for eliret (program 4)."""

from __future__ import annotations

import keras
from keras import layers


def _double_conv(x, filters: int, prefix: str):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{prefix}_conv1")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{prefix}_conv2")(x)


def build_unet(
    base_filters: int = 16,
    depth: int = 4,
    channels: int = 1,
    strided: bool = False,
    name: str = "unet",
) -> keras.Model:
    """Builds the U-Net of lecture program 4.

    Each of the `depth` levels has two 3×3 ReLU convolutions (n, 2n, 4n, 8n filters); the
    contracting path max-pools between levels, the expanding path up-samples, applies a
    2×2 convolution and concatenates the skip connection from the same level. A final 1×1
    sigmoid convolution gives the foreground probability. Fully convolutional: sides must
    be multiples of 2**(depth - 1).

    Args:
        base_filters: n, the filters of the first level.
        depth: number of levels (4 in the lecture).
        channels: input channels (1 for grey images).
        strided: the lecture's homework variant built only from 3×3 convolutions: stride-2
            convolutions replace max-pooling, stride-2 transposed convolutions replace
            up-sampling + 2×2 convolution, and the output layer is a 3×3 sigmoid convolution.
        name: the model's name.

    Returns:
        A Keras model mapping (batch, H, W, channels) to (batch, H, W, 1) in [0, 1].
    """
    inputs = keras.Input(shape=(None, None, channels), name="image")
    x = inputs
    skips = []
    for level in range(depth):
        x = _double_conv(x, base_filters * 2**level, f"down{level + 1}")
        if level < depth - 1:
            skips.append(x)
            if strided:
                x = layers.Conv2D(x.shape[-1], 3, strides=2, padding="same", activation="relu", name=f"pool{level + 1}")(x)
            else:
                x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    for level in reversed(range(depth - 1)):
        filters = base_filters * 2**level
        if strided:
            x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu", name=f"up{level + 1}_conv0")(x)
        else:
            x = layers.UpSampling2D(2, name=f"upsample{level + 1}")(x)
            x = layers.Conv2D(filters, 2, padding="same", activation="relu", name=f"up{level + 1}_conv0")(x)
        x = layers.Concatenate(name=f"skip{level + 1}")([skips[level], x])
        x = _double_conv(x, filters, f"up{level + 1}")
    outputs = layers.Conv2D(1, 3 if strided else 1, padding="same", activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)
