"""Shapes and parameter counts of the networks built from code."""

from __future__ import annotations

import numpy as np
import pytest

from segdemo import architectures
from segdemo.architectures.fcn import build_fcn
from segdemo.architectures.membrane_unet import build_membrane_unet
from segdemo.architectures.unet import build_unet


def test_fcn_layers_follow_the_lecture():
    model = build_fcn(filters=(32, 64, 128))
    down = [layer for layer in model.layers if layer.name.startswith("down")]
    up = [layer for layer in model.layers if layer.name.startswith("up")]
    assert [layer.kernel_size for layer in down] == [(5, 5)] * 3
    assert [layer.strides for layer in down + up] == [(2, 2)] * 6
    assert sum(layer.name.startswith("dropout") for layer in model.layers) == 3
    assert up[-1].get_config()["activation"] == "linear"
    # 5×5 kernels: (25·1·32+32) + (25·32·64+64) + (25·64·128+128) + (25·128·64+64) + (25·64·32+32) + (25·32·1+1)
    assert model.count_params() == 832 + 51264 + 204928 + 204864 + 51232 + 801


@pytest.mark.parametrize("size", [(32, 32), (72, 88), (80, 88)])
def test_fcn_is_fully_convolutional(size):
    model = build_fcn()
    output = model(np.zeros((1, *size, 1), np.float32), training=False)
    assert output.shape == (1, *size, 1)


def test_unet_levels_and_skips():
    model = build_unet(base_filters=16)
    filters = [layer.filters for layer in model.layers if layer.name.startswith("down") and "conv" in layer.name]
    assert filters == [16, 16, 32, 32, 64, 64, 128, 128]
    assert sum(layer.name.startswith("skip") for layer in model.layers) == 3
    assert sum(layer.name.startswith("pool") for layer in model.layers) == 3
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    output = np.asarray(model(np.random.rand(1, 72, 88, 1).astype(np.float32), training=False))
    assert output.shape == (1, 72, 88, 1) and 0.0 <= output.min() and output.max() <= 1.0


def test_membrane_unet_with_and_without_skips():
    with_skips = build_membrane_unet(base_filters=8, input_size=(64, 64))
    without = build_membrane_unet(base_filters=8, input_size=(64, 64), skip_connections=False)
    assert sum(layer.name.startswith("skip") for layer in with_skips.layers) == 3
    assert not any(layer.name.startswith("skip") for layer in without.layers)
    assert sum("bn" in layer.name for layer in with_skips.layers) == 14  # two per level, seven blocks
    assert sum("dropout" in layer.name for layer in with_skips.layers) == 2
    # Skips widen the first convolution after each concatenation: more parameters.
    assert with_skips.count_params() > without.count_params()
    assert with_skips(np.zeros((1, 64, 64, 1), np.float32), training=False).shape == (1, 64, 64, 1)


def test_mirrored_border_is_the_lecture_network_on_the_mirrored_slice():
    """The overlap-tile strategy: the network with `mirror` gives, on a slice, what the lecture's
    network (same weights) gives on the slice with its borders mirrored, cropped back; and its
    border pixels differ from the lecture network's on the bare slice (they see context, not zeros)."""
    import keras

    keras.utils.set_random_seed(3)
    image = np.random.default_rng(3).random((1, 48, 64, 1)).astype(np.float32)
    mirrored = build_membrane_unet(base_filters=4, input_size=(48, 64), mirror=16)
    lecture = build_membrane_unet(base_filters=4, input_size=(80, 96))
    lecture.set_weights(mirrored.get_weights())  # the border layers hold no weights
    padded = np.pad(image, ((0, 0), (16, 16), (16, 16), (0, 0)), mode="symmetric")
    ours = np.asarray(mirrored(image, training=False))
    assert ours.shape == image.shape
    np.testing.assert_allclose(ours, np.asarray(lecture(padded, training=False))[:, 16:-16, 16:-16], atol=1e-5)
    bare = build_membrane_unet(base_filters=4, input_size=(48, 64))
    bare.set_weights(mirrored.get_weights())
    border = np.ones((48, 64), bool)
    border[4:-4, 4:-4] = False
    assert np.abs(ours - np.asarray(bare(image, training=False)))[0, ..., 0][border].max() > 1e-3
    with pytest.raises(ValueError, match="multiple of 8"):
        build_membrane_unet(base_filters=4, input_size=(48, 64), mirror=12)


def test_lecture_width_membrane_unet_has_the_lecture_filters():
    model = build_membrane_unet(base_filters=64)
    filters = sorted({layer.filters for layer in model.layers if layer.name.startswith("down") and "conv" in layer.name})
    assert filters == [64, 128, 256, 512]


def test_unknown_architecture_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown architecture"):
        architectures.build("resnet")


def test_homework_fcn_with_skips():
    model = build_fcn(skip_connections=True)
    assert sum(layer.name.startswith("skip") for layer in model.layers) == 2
    assert model.get_layer("up2").input.shape[-1] == 64 + 64  # up1's output + down2's map
    assert model(np.zeros((1, 72, 88, 1), np.float32), training=False).shape == (1, 72, 88, 1)


def test_homework_unet_uses_only_3x3_convolutions():
    model = build_unet(base_filters=16, strided=True)
    kernels = {layer.kernel_size for layer in model.layers if hasattr(layer, "kernel_size")}
    assert kernels == {(3, 3)}
    assert not any("MaxPooling" in type(layer).__name__ or "UpSampling" in type(layer).__name__ for layer in model.layers)
    assert sum(layer.strides == (2, 2) for layer in model.layers if hasattr(layer, "strides")) == 6
    assert model(np.zeros((1, 72, 88, 1), np.float32), training=False).shape == (1, 72, 88, 1)
