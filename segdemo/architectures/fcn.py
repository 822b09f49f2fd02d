"""The lecture's fully convolutional network for eliret (program 2)."""

from __future__ import annotations

import keras
from keras import layers


def build_fcn(
    filters: tuple[int, int, int] = (32, 64, 128),
    channels: int = 1,
    dropout: float = 0.25,
    skip_connections: bool = False,
    name: str = "fcn",
) -> keras.Model:
    """Builds the encoder–decoder FCN of lecture program 2.

    Three 5×5 stride-2 'same' convolutions with ReLU and Dropout halve the image three
    times (32→16→8→4 on eliret), and three 5×5 stride-2 transposed convolutions bring it
    back to full size. The last layer is linear, as in the lecture (trained with MSE on
    0/1 masks). The input size is free, so the network also runs on larger images whose
    sides are multiples of 8.

    Args:
        filters: number of filters of the three down-sampling convolutions; the
            up-sampling path mirrors them (the last transposed convolution has 1).
        channels: input channels (1 for grey images).
        dropout: dropout rate after each down-sampling convolution.
        skip_connections: the lecture's homework variant: concatenate each up-sampled map
            with the encoder map of the same size (U-Net-style), before the next transposed
            convolution.
        name: the model's name.

    Returns:
        A Keras model mapping (batch, H, W, channels) to (batch, H, W, 1).
    """
    inputs = keras.Input(shape=(None, None, channels), name="image")
    x = inputs
    encoder_maps = []
    for index, count in enumerate(filters, start=1):
        x = layers.Conv2D(count, 5, strides=2, padding="same", activation="relu", name=f"down{index}")(x)
        x = layers.Dropout(dropout, name=f"dropout{index}")(x)
        encoder_maps.append(x)
    up_filters = list(reversed(filters[:-1])) + [1]
    for index, count in enumerate(up_filters, start=1):
        last = index == len(up_filters)
        if skip_connections and index > 1:
            x = layers.Concatenate(name=f"skip{index - 1}")([encoder_maps[-index], x])
        x = layers.Conv2DTranspose(
            count,
            5,
            strides=2,
            padding="same",
            activation=None if last else "relu",
            name=f"up{index}",
        )(x)
    return keras.Model(inputs, x, name=name)
