"""PSPNet-50/101 rebuilt in Keras 3: layer names, order, shapes and counts against the published
networks' facts; loading Keras-2 HDF5 weight files (written here, with random values)."""

from __future__ import annotations

import functools

import h5py
import numpy as np
import pytest
import tensorflow as tf

from segdemo.architectures.pspnet import (
    BilinearResize,
    build_pspnet,
    feature_map_size,
    pyramid_kernels,
)
from segdemo.legacy_h5 import LoadReport, load_legacy_weights, read_legacy_weights, read_name_list, weight_kind
from segdemo.pipelines import pspnet_pipelines
from tests.legacy_h5_writer import write_legacy_weights, write_name_list
from tests.model_helpers import assert_same_weights, randomise

pytestmark = pytest.mark.slow  # full-size PSPNet-50 and -101 builds (cached across the module)

# (layers, classes, input size) of the three published networks, and their facts.
ADE50 = (50, 150, 473)
VOC101 = (101, 21, 473)
CITY101 = (101, 19, 713)
FACTS = {
    ADE50: {"weighted_layers": 121, "arrays": 302, "params": 46_841_174},
    VOC101: {"weighted_layers": 223, "arrays": 557, "params": 65_819_349},
    CITY101: {"weighted_layers": 223, "arrays": 557, "params": 65_818_323},
}
PIPELINES = ("original", "keras_segmentation")


@functools.cache
def model_for(layers: int, classes: int, size: int, pipeline: str):
    """Builds each configuration, in the network variant of `pipeline`, once per test session
    (a PSPNet-101 takes seconds)."""
    options = {p.name: p.network_options for p in pspnet_pipelines(layers, size)}[pipeline]
    return build_pspnet(layers, classes, size, **options)


def expected_weighted_layers(layers: int, classes: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, first weight's shape) of every weighted layer, in order, written from the facts:
    convolutions give their kernel shape, batch normalisations their channel count."""
    expected = []

    def conv_bn(name, kernel, cin, cout):
        expected.extend([(name, (kernel, kernel, cin, cout)), (f"{name}_bn", (cout,))])

    conv_bn("conv1_1_3x3_s2", 3, 3, 64)
    conv_bn("conv1_2_3x3", 3, 64, 64)
    conv_bn("conv1_3_3x3", 3, 64, 128)
    channels = 128
    units = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[layers]
    for stage, count, m in zip((2, 3, 4, 5), units, (1, 2, 4, 8)):
        for index in range(1, count + 1):
            unit = f"conv{stage}_{index}"
            conv_bn(f"{unit}_1x1_reduce", 1, channels, 64 * m)
            conv_bn(f"{unit}_3x3", 3, 64 * m, 64 * m)
            if index == 1:  # reduce, reduce_bn, 3x3, 3x3_bn, increase, proj, increase_bn, proj_bn
                expected.append((f"{unit}_1x1_increase", (1, 1, 64 * m, 256 * m)))
                expected.append((f"{unit}_1x1_proj", (1, 1, channels, 256 * m)))
                expected.append((f"{unit}_1x1_increase_bn", (256 * m,)))
                expected.append((f"{unit}_1x1_proj_bn", (256 * m,)))
            else:
                conv_bn(f"{unit}_1x1_increase", 1, 64 * m, 256 * m)
            channels = 256 * m
    bins = (6, 3, 2, 1)
    expected.extend((f"conv5_3_pool{b}_conv", (1, 1, 2048, 512)) for b in bins)
    expected.extend((f"conv5_3_pool{b}_conv_bn", (512,)) for b in bins)
    conv_bn("conv5_4", 3, 4096, 512)
    expected.append(("conv6", (1, 1, 512, classes)))
    return expected


def weighted(model):
    return [layer for layer in model.layers if layer.weights]


def zero(model) -> None:
    model.set_weights([np.zeros(w.shape, np.float32) for w in model.get_weights()])


# --- architecture -----------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("config", [ADE50, VOC101, CITY101], ids=["50-ade", "101-voc", "101-cityscapes"])
def test_weighted_layers_match_the_published_networks(config, pipeline):
    layers, classes, size = config
    model = model_for(layers, classes, size, pipeline)
    facts = FACTS[config]
    found = [(layer.name, tuple(layer.weights[0].shape)) for layer in weighted(model)]
    assert found == expected_weighted_layers(layers, classes)
    assert len(found) == facts["weighted_layers"]
    assert len(model.weights) == facts["arrays"]
    assert model.count_params() == facts["params"]
    assert model.input_shape == (None, size, size, 3)
    assert model.output_shape == (None, size, size, classes)


@pytest.mark.parametrize("config", [ADE50, VOC101], ids=["50-ade", "101-voc"])
def test_batch_norm_settings_and_biases(config):
    model = model_for(*config, "original")
    for layer in weighted(model):
        if layer.name.endswith("_bn"):
            assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
            assert (layer.momentum, layer.epsilon) == (0.95, 1e-5), layer.name
        else:
            assert layer.use_bias == (layer.name == "conv6"), layer.name


@pytest.mark.parametrize(
    "config, pipeline, strided",
    [
        (VOC101, "original", "conv3_1_3x3"),
        (CITY101, "original", "conv3_1_3x3"),
        (VOC101, "keras_segmentation", "conv3_1_1x1_reduce"),
        (CITY101, "keras_segmentation", "conv3_1_1x1_reduce"),
        (ADE50, "original", "conv3_1_1x1_reduce"),
        (ADE50, "keras_segmentation", "conv3_1_1x1_reduce"),
    ],
)
def test_stride_of_conv3_1_depends_on_the_pipeline(config, pipeline, strided):
    model = model_for(*config, pipeline)
    strides = {layer.name: layer.strides for layer in weighted(model) if hasattr(layer, "strides")}
    assert {name for name, value in strides.items() if value == (2, 2)} == {"conv1_1_3x3_s2", strided, "conv3_1_1x1_proj"}
    dilations = {layer.name: layer.dilation_rate for layer in weighted(model) if layer.name.endswith("_3x3")}
    assert dilations["conv2_1_3x3"] == dilations["conv3_4_3x3"] == (1, 1)
    assert dilations["conv4_1_3x3"] == (2, 2) and dilations["conv5_3_3x3"] == (4, 4)


@pytest.mark.parametrize("config", [ADE50, CITY101], ids=["473", "713"])
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_pyramid_pooling_and_resize_layers(config, pipeline):
    layers, classes, size = config
    model = model_for(layers, classes, size, pipeline)
    feature = {473: 60, 713: 90}[size]
    kernels = {473: {6: 10, 3: 20, 2: 30, 1: 60}, 713: {6: 15, 3: 30, 2: 45, 1: 90}}[size]
    assert feature_map_size(size) == feature and pyramid_kernels(size) == kernels
    assert model.get_layer("conv5_3_relu").output.shape == (None, feature, feature, 2048)
    for bins, kernel in kernels.items():
        pool = model.get_layer(f"conv5_3_pool{bins}")
        assert pool.pool_size == pool.strides == (kernel, kernel)
        assert pool.output.shape == (None, bins, bins, 2048)
    concat = model.get_layer("conv5_3_concat")
    order = ["conv5_3_relu"] + [f"conv5_3_pool{bins}_interp" for bins in (6, 3, 2, 1)]
    assert [id(tensor) for tensor in concat.input] == [id(model.get_layer(name).output) for name in order]
    resizes = [layer for layer in model.layers if isinstance(layer, BilinearResize)]
    assert len(resizes) == 5
    assert {layer.align_corners for layer in resizes} == {pipeline == "original"}
    assert model.get_layer("conv5_4_dropout").rate == pytest.approx(0.1)


def test_builders_and_their_arguments():
    small50 = build_pspnet(50, classes=2, input_size=185)
    small101 = build_pspnet(101, classes=2, input_size=185, align_corners=False)
    assert small50.name == "pspnet50" and small101.name == "pspnet101"
    assert small50.output_shape == (None, 185, 185, 2)
    for kwargs, message in [
        ({"layers": 34}, "50 or 101"),
        ({"stride_on": "5x5"}, "stride_on"),
        ({"input_size": 500}, "bins"),
        ({"classes": 0}, "classes"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_pspnet(**kwargs)


def test_bilinear_resize_modes():
    image = tf.constant(np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1))
    aligned = np.asarray(BilinearResize((3, 3), align_corners=True)(image))[0, :, :, 0]
    np.testing.assert_allclose(aligned, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
    half_pixel = np.asarray(BilinearResize((4, 4))(image))[0, :, :, 0]
    np.testing.assert_allclose(half_pixel, np.asarray(tf.image.resize(image, (4, 4)))[0, :, :, 0])
    np.testing.assert_allclose(half_pixel[0], [0, 0.25, 0.75, 1])
    layer = BilinearResize((5, 7), align_corners=True, name="r")
    clone = BilinearResize.from_config(layer.get_config())
    assert (clone.size, clone.align_corners, clone.name) == ((5, 7), True, "r")


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_forward_pass_gives_probabilities_inside_tf_function(pipeline):
    model = model_for(50, 5, 185, pipeline)  # Keras' initial weights keep activations finite
    run = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((1, 185, 185, 3), tf.float32)],
    )
    image = np.random.default_rng(1).uniform(-120, 130, (1, 185, 185, 3)).astype(np.float32)
    probabilities = np.asarray(run(image))
    assert probabilities.shape == (1, 185, 185, 5)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, np.asarray(model(image, training=False)), atol=1e-5)


# --- Keras-2 HDF5 files -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def source50():
    """A small-class PSPNet-50 with random weights: the weights of the files written below."""
    model = build_pspnet(50, 3, 473, "keras_segmentation", name="source")
    randomise(model)
    return model


@pytest.fixture(scope="module")
def target50():
    return build_pspnet(50, 3, 473, "original", name="target")


def test_written_file_has_the_keras2_layout(tmp_path, source50):
    path = write_legacy_weights(source50, tmp_path / "w.h5")
    with h5py.File(path, "r") as f:
        assert read_name_list(f, "layer_names") == [layer.name for layer in source50.layers]
        # h5py reads back the bytes that Keras 2 (and the writer) stored as str.
        assert f.attrs["backend"] == "tensorflow" and f.attrs["keras_version"].startswith("2.")
        assert list(f["conv1_1_3x3_s2"].attrs["weight_names"]) == [b"conv1_1_3x3_s2/kernel:0"]
        assert f["conv1_1_3x3_s2"]["conv1_1_3x3_s2"]["kernel:0"].shape == (3, 3, 3, 64)
        assert [n.decode() for n in f["conv6"].attrs["weight_names"]] == ["conv6/kernel:0", "conv6/bias:0"]
        names = [n.decode() for n in f["conv5_4_bn"].attrs["weight_names"]]
        assert names == [f"conv5_4_bn/{kind}:0" for kind in ("gamma", "beta", "moving_mean", "moving_variance")]
        assert len(f["pool1"].attrs["weight_names"]) == 0


@pytest.mark.parametrize(
    "layout, suffix, weight_suffix",
    [("weights_only", "", ""), ("weights_only", "_1", ""), ("model_weights", "", ""), ("model_weights", "_1", "_1")],
)
def test_every_array_lands_in_its_layer(tmp_path, source50, target50, layout, suffix, weight_suffix):
    path = write_legacy_weights(source50, tmp_path / "w.h5", layout=layout, suffix=suffix, weight_suffix=weight_suffix)
    zero(target50)
    report = load_legacy_weights(target50, path)
    assert report == LoadReport(layers_set=121, arrays_set=302, layout=layout, path=str(path))
    assert_same_weights(source50, target50)


def test_pspnet101_file_loads_across_pipelines(tmp_path):
    source = model_for(*VOC101, "keras_segmentation")
    target = model_for(*VOC101, "original")
    randomise(source, seed=2)
    zero(target)
    path = write_legacy_weights(source, tmp_path / "w101.h5", layout="model_weights", suffix="_1")
    report = load_legacy_weights(target, path)
    assert (report.layers_set, report.arrays_set, report.layout) == (223, 557, "model_weights")
    assert_same_weights(source, target)
    layers, layout = read_legacy_weights(path)
    assert list(layers) == [layer.name for layer in weighted(target)] and layout == "model_weights"


def test_weight_kinds():
    assert weight_kind("conv1_1_3x3_s2/kernel:0") == "kernel"
    assert weight_kind("conv1_1_3x3_s2_1/kernel:0") == "kernel"
    assert weight_kind("conv5_4_bn/moving_variance_1:0") == "moving_variance"
    assert weight_kind("conv6/bias") == "bias"


def test_long_name_lists_are_chunked_as_keras2_did(tmp_path):
    names = [f"layer_with_a_rather_long_name_{i:05d}" for i in range(3000)]
    with h5py.File(tmp_path / "names.h5", "w") as f:
        write_name_list(f, "layer_names", names)
        assert "layer_names" not in f.attrs and "layer_names1" in f.attrs
        assert read_name_list(f, "layer_names") == names


@pytest.fixture()
def good_file(tmp_path, source50):
    return write_legacy_weights(source50, tmp_path / "w.h5")


def _edit(path, edit) -> None:
    with h5py.File(path, "a") as f:
        edit(f)


def test_missing_layer_is_named(good_file, target50):
    def drop_conv5_4(f):
        f.attrs["layer_names"] = np.asarray([n for n in f.attrs["layer_names"] if n != b"conv5_4"])

    _edit(good_file, drop_conv5_4)
    with pytest.raises(ValueError, match=r"no weights for 1 layer.*conv5_4") as error:
        load_legacy_weights(target50, good_file)
    assert str(good_file) in str(error.value)


def test_wrong_shape_is_named_and_nothing_is_set(good_file, target50):
    def widen_conv6(f):
        del f["conv6"]["conv6"]["kernel:0"]
        f["conv6"]["conv6"]["kernel:0"] = np.zeros((1, 1, 512, 4), np.float32)

    _edit(good_file, widen_conv6)
    zero(target50)
    with pytest.raises(ValueError, match=r"'conv6' weight 'kernel' has shape \(1, 1, 512, 4\).*\(1, 1, 512, 3\)"):
        load_legacy_weights(target50, good_file)
    assert not np.any(target50.get_layer("conv1_1_3x3_s2").get_weights()[0])


def test_extra_layer_is_named(good_file, target50):
    def add_layer(f):
        f.attrs["layer_names"] = np.append(f.attrs["layer_names"], b"conv4_7_1x1_reduce")
        group = f.create_group("conv4_7_1x1_reduce")
        group.attrs["weight_names"] = np.asarray([b"conv4_7_1x1_reduce/kernel:0"])
        group["conv4_7_1x1_reduce/kernel:0"] = np.zeros((1, 1, 1024, 256), np.float32)

    _edit(good_file, add_layer)
    with pytest.raises(ValueError, match="does not have.*conv4_7_1x1_reduce"):
        load_legacy_weights(target50, good_file)


def test_wrong_kinds_and_dangling_names_are_named(good_file, target50):
    def rename_gamma(f):
        group = f["conv1_2_3x3_bn"]
        group.attrs["weight_names"] = np.asarray([n.replace(b"gamma", b"scale") for n in group.attrs["weight_names"]])

    _edit(good_file, rename_gamma)
    with pytest.raises(ValueError, match="conv1_2_3x3_bn.*scale"):
        load_legacy_weights(target50, good_file)


def test_a_different_network_does_not_load(tmp_path, good_file):
    small101 = build_pspnet(101, 3, 185, "original")
    with pytest.raises(ValueError, match=r"no weights for 102 layer.*conv4_7_1x1_reduce"):
        load_legacy_weights(small101, good_file)


def test_files_that_are_not_keras2_weights(tmp_path, target50):
    page = tmp_path / "page.h5"
    page.write_text("<html>Dropbox error</html>")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_legacy_weights(target50, page)
    keras3 = tmp_path / "k3.h5"
    with h5py.File(keras3, "w") as f:
        f.create_group("layers")
    with pytest.raises(ValueError, match="Keras 3"):
        load_legacy_weights(target50, keras3)
    with pytest.raises(FileNotFoundError):
        load_legacy_weights(target50, tmp_path / "absent.h5")
    with pytest.raises(ValueError, match="layout"):
        write_legacy_weights(target50, tmp_path / "x.h5", layout="saved_model")
