"""A PSPNet's weightless end (bilinear resize, softmax) in NumPy (segdemo.tail) against the Keras
layers it stands in for, at the published networks' sizes and at odd ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from segdemo import tail
from segdemo.architectures.pspnet import BilinearResize

CASES = [
    # (raw side, output side, classes, align_corners): ADE20K, Cityscapes, VOC in the library's
    # pipeline (half-pixel centres), the tests' reduced network, and sizes that shrink or stay.
    (60, 473, 150, True),
    (90, 713, 19, True),
    (60, 473, 21, False),
    (18, 137, 6, True),
    (13, 7, 3, False),
    (5, 1, 2, True),
    (1, 5, 2, True),
]


def _keras_tail(size: int, align_corners: bool) -> list:
    return [BilinearResize((size, size), align_corners=align_corners, name="conv6_interp"), keras.layers.Softmax(axis=-1)]


@pytest.mark.parametrize(("side", "size", "classes", "align_corners"), CASES)
def test_numpy_tail_gives_the_keras_layers_numbers(side, size, classes, align_corners):
    rng = np.random.default_rng(side * size + classes)
    raw = (rng.standard_normal((1, side, side, classes)) * 6).astype(np.float32)
    layers = _keras_tail(size, align_corners)
    resized = np.asarray(layers[0](raw))
    expected = np.asarray(layers[1](resized))
    run = tail.from_configs([keras.saving.serialize_keras_object(layer) for layer in layers])
    assert run is not None
    kept = raw.copy()
    found = run(raw)
    np.testing.assert_array_equal(raw, kept)  # the output cache's raw scores are never touched
    assert found.shape == expected.shape == (1, size, size, classes) and found.dtype == np.float32
    # The resize to float32 rounding (a few units in the last place of the largest score) ...
    scale = float(np.abs(resized).max())
    np.testing.assert_allclose(tail.bilinear_resize(raw, (size, size), align_corners), resized, rtol=0, atol=4e-7 * scale)
    # ... and so the probabilities and, but for exact ties, the labels.
    np.testing.assert_allclose(found, expected, rtol=0, atol=2e-6)
    assert (found.argmax(-1) == expected.argmax(-1)).mean() >= 0.9999
    np.testing.assert_allclose(found.sum(-1), 1.0, atol=1e-5)


def test_half_pixel_and_aligned_corners_differ():
    """The two conventions are not the same resize: mixing them up would fail the test above."""
    raw = np.random.default_rng(0).standard_normal((1, 6, 6, 2)).astype(np.float32)
    aligned = tail.bilinear_resize(raw, (17, 17), True)
    half_pixel = tail.bilinear_resize(raw, (17, 17), False)
    assert np.abs(aligned - half_pixel).max() > 0.1
    np.testing.assert_array_equal(aligned[0, 0, 0], raw[0, 0, 0])  # corners coincide
    np.testing.assert_array_equal(aligned[0, -1, -1], raw[0, -1, -1])


def test_interpolation_weights_sum_to_one_and_stay_inside():
    for in_size, out_size, align_corners in [(60, 473, True), (60, 473, False), (7, 3, False), (1, 9, True)]:
        weights = tail.resize_weights(in_size, out_size, align_corners)
        assert weights.shape == (out_size, in_size)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
        assert weights.min() >= 0.0
    with pytest.raises(ValueError, match="positive"):
        tail.resize_weights(0, 5, True)


def test_unknown_layers_are_left_to_keras():
    """Anything but a resize and a softmax over the classes: None, and the caller traces the Keras layers."""
    resize, softmax = (keras.saving.serialize_keras_object(layer) for layer in _keras_tail(9, True))
    assert tail.from_configs([resize, keras.saving.serialize_keras_object(keras.layers.ReLU())]) is None
    assert tail.from_configs([keras.saving.serialize_keras_object(keras.layers.Softmax(axis=1))]) is None
    assert tail.from_configs([]) is None
    only_softmax = tail.from_configs([softmax])
    raw = np.random.default_rng(1).standard_normal((1, 3, 3, 4)).astype(np.float32)
    kept = raw.copy()
    np.testing.assert_allclose(only_softmax(raw), np.asarray(keras.layers.Softmax()(kept)), atol=1e-6)
    np.testing.assert_array_equal(raw, kept)
    with pytest.raises(ValueError, match="one image"):
        tail.bilinear_resize(raw[0], (5, 5), True)
