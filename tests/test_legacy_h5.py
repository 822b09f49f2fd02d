"""The Keras-2 HDF5 reader against writers that are not ours, and our test writer against Keras.

- Keras's own legacy-H5 code writes the files (`model.save("x.h5")`, a whole-model file with
  `model_weights`, and `save_weights_to_hdf5_group`, what Keras 2's `save_weights` called);
  `segdemo.legacy_h5` must load every array into the right variable.
- A file built byte by byte with h5py from the published layout (Keras 2.2: root `layer_names`,
  `backend`, `keras_version`; a group per layer, weightless layers included, with `weight_names`;
  each weight a dataset at that name inside the group, so `conv1/conv1/kernel:0`).
- `tests/legacy_h5_writer.py`, which the other tests use to write published-layout files, is read
  back by Keras's own `load_weights(..., by_name=True)`.
"""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

from segdemo.architectures.pspnet import build_pspnet
from segdemo.legacy_h5 import load_legacy_weights
from tests.legacy_h5_writer import write_legacy_weights
from tests.model_helpers import assert_same_weights, randomise


def small_network(name: str = "small") -> keras.Model:
    """Layers of every kind the PSPNets hold, named as they are: convolutions without bias,
    batch normalisation, a weightless activation, a classifier with bias."""
    inputs = keras.Input((8, 8, 3), name="data")
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv1_1_3x3_s2")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="conv1_1_3x3_s2_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_1_3x3_s2_relu")(x)
    outputs = keras.layers.Conv2D(2, 1, name="conv6")(x)
    return keras.Model(inputs, outputs, name=name)


@pytest.fixture(scope="module")
def pspnet_pair():
    """A small PSPNet-50 with random weights, and a second one to load into."""
    source = build_pspnet(50, 3, 185, name="source")
    randomise(source, 3)
    return source, build_pspnet(50, 3, 185, name="target")


def test_a_whole_model_file_saved_by_keras_loads(tmp_path):
    source, target = small_network(), small_network("target")
    randomise(source, 1)
    path = tmp_path / "model.h5"
    source.save(path)  # Keras's legacy whole-model writer: weights under `model_weights`
    with h5py.File(path, "r") as handle:
        assert "model_config" in handle.attrs and "model_weights" in handle
    report = load_legacy_weights(target, path)
    assert (report.layout, report.layers_set, report.arrays_set) == ("model_weights", 3, 7)
    assert_same_weights(source, target)
    np.testing.assert_allclose(target(np.ones((1, 8, 8, 3))), source(np.ones((1, 8, 8, 3))), rtol=1e-6)


@pytest.mark.slow
def test_a_pspnet_weights_file_written_by_keras_loads(tmp_path, pspnet_pair):
    source, target = pspnet_pair
    target.set_weights([np.zeros_like(array) for array in target.get_weights()])
    path = tmp_path / "pspnet.h5"
    with h5py.File(path, "w") as handle:  # what Keras 2's save_weights("x.h5") did
        legacy_h5_format.save_weights_to_hdf5_group(handle, source)
    report = load_legacy_weights(target, path)
    assert (report.layout, report.arrays_set) == ("weights_only", len(target.weights))
    assert_same_weights(source, target)


def _names(values: list[str]) -> np.ndarray:
    return np.asarray([value.encode("utf8") for value in values])


def test_a_file_built_by_hand_from_the_published_layout_loads(tmp_path):
    kernel = np.arange(3 * 3 * 3 * 4, dtype=np.float32).reshape(3, 3, 3, 4) / 100
    gamma, beta = np.full(4, 2.0, np.float32), np.full(4, -1.0, np.float32)
    mean, variance = np.arange(4, dtype=np.float32), np.arange(1, 5, dtype=np.float32)
    classifier, bias = np.arange(8, dtype=np.float32).reshape(1, 1, 4, 2), np.asarray([0.5, -0.5], np.float32)
    path = tmp_path / "published.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = _names(["data", "conv1_1_3x3_s2", "conv1_1_3x3_s2_bn", "conv1_1_3x3_s2_relu", "conv6"])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.2.4"
        for weightless in ("data", "conv1_1_3x3_s2_relu"):
            handle.create_group(weightless).attrs["weight_names"] = np.asarray([])
        group = handle.create_group("conv1_1_3x3_s2")
        # A session that had built the network before wrote variable names with a suffix.
        group.attrs["weight_names"] = _names(["conv1_1_3x3_s2_1/kernel:0"])
        group["conv1_1_3x3_s2_1/kernel:0"] = kernel
        group = handle.create_group("conv1_1_3x3_s2_bn")
        # Listed in another order than Keras 3 keeps them: placement must go by kind, not position.
        bn = {"moving_variance": variance, "gamma": gamma, "moving_mean": mean, "beta": beta}
        group.attrs["weight_names"] = _names([f"conv1_1_3x3_s2_bn/{kind}:0" for kind in bn])
        for kind, value in bn.items():
            group[f"conv1_1_3x3_s2_bn/{kind}:0"] = value
        group = handle.create_group("conv6")
        group.attrs["weight_names"] = _names(["conv6/kernel:0", "conv6/bias:0"])
        group["conv6/kernel:0"], group["conv6/bias:0"] = classifier, bias
    model = small_network()
    report = load_legacy_weights(model, path)
    assert (report.layout, report.layers_set, report.arrays_set) == ("weights_only", 3, 7)
    np.testing.assert_array_equal(model.get_layer("conv1_1_3x3_s2").kernel, kernel)
    batch_norm = model.get_layer("conv1_1_3x3_s2_bn")
    for variable, expected in zip(
        (batch_norm.gamma, batch_norm.beta, batch_norm.moving_mean, batch_norm.moving_variance),
        (gamma, beta, mean, variance),
        strict=True,
    ):
        np.testing.assert_array_equal(variable, expected)
    np.testing.assert_array_equal(model.get_layer("conv6").kernel, classifier)
    np.testing.assert_array_equal(model.get_layer("conv6").bias, bias)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["weights_only", "model_weights"])
def test_keras_reads_what_the_test_writer_writes(tmp_path, pspnet_pair, layout):
    source, target = pspnet_pair
    target.set_weights([np.zeros_like(array) for array in target.get_weights()])
    path = write_legacy_weights(source, tmp_path / "written.h5", layout=layout)
    if layout == "weights_only":
        target.load_weights(path, by_name=True)  # Keras's own legacy reader, by layer name
    else:
        with h5py.File(path, "r") as handle:
            legacy_h5_format.load_weights_from_hdf5_group_by_name(handle["model_weights"], target)
    assert_same_weights(source, target)
