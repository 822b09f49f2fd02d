"""Helpers the Keras and weights tests share (one copy each): random weights that make swaps
visible, layer-by-layer weight equality, and the digests of the committed weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def randomise(model, seed: int = 0) -> None:
    """Gives every weight array distinct random values in [0.5, 1.5) (batch-norm variances stay
    positive), so that a swapped or skipped array shows in a comparison.

    Args:
        model: a built Keras model.
        seed: numpy's seed.
    """
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, array.shape).astype(np.float32) for array in model.get_weights()])


def assert_same_weights(expected, actual) -> None:
    """Every weight of every layer of `expected` equals the one of `actual`'s layer of the same name.

    Args:
        expected: the model whose weights were written.
        actual: the model they were loaded into.
    """
    for layer in expected.layers:
        for mine, theirs in zip(layer.get_weights(), actual.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs, err_msg=layer.name)


def committed_weight_digests() -> dict[str, str]:
    """sha256 of the committed weights a live training can start from (other files in weights/,
    such as a model being trained elsewhere, may change meanwhile)."""
    from segdemo import live_training

    names = sorted(f"{key}.weights.h5" for key in live_training.REGISTRY_KEYS.values())
    return {name: hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest() for name in names}
