"""Weights for a PSPNet made from a seed and each layer's name alone (pure numpy).

The same arrays come out in any framework: the lecture's library (Keras 2, in a separate
environment, see bench/keras_segmentation_reference.py) and our Keras 3 rebuild get identical
weights without sharing a file, so a fixture recorded with the library can be checked here.
Values are scaled so that a deep random network keeps its activations in a sane range:
convolution kernels are He-normal, batch normalisation holds mild random statistics.
"""

from __future__ import annotations

import zlib

import numpy as np


def seeded_array(seed: int, layer_name: str, index: int, shape: tuple[int, ...], n_weights: int) -> np.ndarray:
    """The `index`-th weight of layer `layer_name` (of `n_weights`), shaped `shape`, as float32.

    Args:
        seed: the run's seed.
        layer_name: the layer's name (the published files' names).
        index: which of the layer's weights (Conv2D: kernel, bias; BatchNormalization: gamma,
            beta, moving mean, moving variance).
        shape: the weight's shape.
        n_weights: how many weights the layer has (4 marks batch normalisation).
    """
    rng = np.random.default_rng([seed, zlib.crc32(layer_name.encode()), index])
    if len(shape) == 4:  # a convolution kernel (kh, kw, in, out)
        fan_in = shape[0] * shape[1] * shape[2]
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    if n_weights == 4:  # batch normalisation: gamma, beta, moving mean, moving variance
        low, high = ((0.6, 1.0), (-0.1, 0.1), (-0.1, 0.1), (0.8, 1.2))[index]
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.normal(0.0, 0.1, shape).astype(np.float32)  # a bias


def seeded_weights(layers, seed: int) -> dict[str, list[np.ndarray]]:
    """{layer name: its weights} for every weighted layer of a model (Keras 2 or 3 layers)."""
    result = {}
    for layer in layers:
        current = layer.get_weights()
        if current:
            result[layer.name] = [
                seeded_array(seed, layer.name, index, tuple(array.shape), len(current)) for index, array in enumerate(current)
            ]
    return result


def apply_seeded_weights(model, seed: int) -> None:
    """Sets every weighted layer of `model` from the recipe."""
    for name, arrays in seeded_weights(model.layers, seed).items():
        model.get_layer(name).set_weights(arrays)
