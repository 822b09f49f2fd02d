"""segdemo.inside: layer lists, feature maps, skip comparison, the pyramid ablation, receptive
fields, the building blocks against hand computations, model cards; and the app's endpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segdemo import architectures, inside, registry, runtime, samples, settings
from segdemo.inside import pyramid_pooling


@pytest.fixture(scope="module")
def eliret_image() -> str:
    return str(samples.lecture_test_images()[0].image)


@pytest.fixture(scope="module")
def membrane_image() -> str:
    return str(samples.membrane_labelled()[0].image)


# --------------------------------------------------------------------------- layers and feature maps


@pytest.mark.parametrize("key", ["fcn", "unet", "fcn_skip", "unet_strided", "membrane_unet"])
def test_layer_list_matches_the_model(key):
    loaded = runtime.get(key)
    shape = (40, 48, 1) if registry.get(key).fully_convolutional else None
    infos = inside.layer_list(loaded.model, shape)
    assert [info.name for info in infos] == [layer.name for layer in loaded.model.layers]
    assert [info.kind for info in infos] == [type(layer).__name__ for layer in loaded.model.layers]
    # The shapes are the ones the real network produces on an input of that size.
    batch = np.zeros((1, *(shape or loaded.model.inputs[0].shape[1:])), np.float32)
    names = [info.name for info in infos[1:]]
    outputs = loaded.intermediate(batch, names)
    assert [info.shape for info in infos[1:]] == [output.shape[1:] for output in outputs]
    roles = {info.name: info.role for info in infos}
    assert roles["image"] == "input"
    smallest = min(info.shape[0] for info in infos[1:])
    # The resolution falls in the encoder and rises in the decoder.
    assert all(info.shape[0] > smallest for info in infos if info.role == "encoder")
    assert all(info.shape[0] == smallest for info in infos if info.role == "bottleneck")
    assert [info.shape[0] for info in infos if info.role == "decoder"] == sorted(
        info.shape[0] for info in infos if info.role == "decoder"
    )
    skips = [info.name for info in infos if info.role == "skip"]
    assert skips == [info.name for info in infos if info.kind == "Concatenate"]
    assert bool(skips) == (key != "fcn")


def test_no_skip_network_has_no_skip_layers():
    infos = inside.layers_of("membrane_noskip")
    assert not [info for info in infos if info.role == "skip"]
    assert {info.role for info in infos} == {"input", "border", "encoder", "bottleneck", "decoder"}
    # The mirrored border (the U-Net paper's overlap-tile) comes first and its crop last, back to the input's size.
    assert [info.kind for info in infos if info.role == "border"] == ["MirrorBorder", "Cropping2D"]
    assert infos[1].role == infos[-1].role == "border" and infos[-1].shape == infos[0].shape
    assert infos[1].shape[0] == infos[0].shape[0] + 2 * registry.get("membrane_noskip").arch_kwargs["mirror"]


def test_feature_maps_come_from_the_real_model(eliret_image):
    spec = registry.get("unet")
    result = inside.feature_maps(eliret_image, "unet", "down3_conv2")
    prepared = spec.default_pipeline.preprocess(samples_pixels(eliret_image))
    height, width = prepared.batch.shape[1:3]
    assert result.maps.shape == (height // 4, width // 4, 64)
    assert len(result.channels) == 16
    means = result.maps.reshape(-1, 64).mean(axis=0)
    assert result.channels == [int(index) for index in np.argsort(-means, kind="stable")[:16]]
    assert result.picture.ndim == 3 and result.picture.shape[2] == 3
    # The last layer's map is the network's own output.
    last = inside.feature_maps(eliret_image, "unet", "mask")
    assert last.channels == [0]
    np.testing.assert_allclose(last.maps, runtime.get("unet").raw(prepared.batch)[0], atol=1e-5)
    json.dumps(result.summary())


def samples_pixels(path):
    from segdemo import images

    return images.load(path)


def test_feature_maps_refuse_unknown_layers_and_pspnets(eliret_image):
    with pytest.raises(ValueError, match="no layer named 'nothing'") as error:
        inside.feature_maps(eliret_image, "unet", "nothing")
    from ui import messages

    assert messages.translate(str(error.value), "pt").startswith("unet não tem camada chamada 'nothing'; escolha uma de ")
    with pytest.raises(ValueError, match="eliret and membrane"):
        inside.feature_maps(eliret_image, "pspnet_voc", "conv6")


def test_channel_grid_shows_all_channels_when_few():
    maps = np.stack([np.full((4, 4), value, np.float32) for value in (0.5, 2.0, 1.0)], axis=-1)
    picture, channels, strengths = inside.channel_grid(maps, "three channels")
    assert channels == [1, 2, 0] and strengths == [2.0, 1.0, 0.5]
    assert picture.shape[2] == 3


@pytest.mark.parametrize("family", ["eliret", "membrane"])
def test_skip_comparison_puts_the_two_decoders_side_by_side(family, eliret_image, membrane_image):
    result = inside.skip_comparison(eliret_image if family == "eliret" else membrane_image, family)
    with_skips, without = result.models
    assert with_skips == inside.SKIP_PAIRS[family][0]
    names_without = {info.name for info in inside.layers_of(without)}
    assert result.layers and all(info.name in names_without for info in result.layers)
    sides = [info.shape[0] for info in result.layers]
    assert sides == sorted(sides) and len(set(sides)) >= 3  # coarse to fine
    assert set(result.detail) == {info.name for info in result.layers}
    # The two networks' maps differ (different weights, and one of them has skips).
    assert any(values[with_skips] != values[without] for values in result.detail.values())


@pytest.mark.parametrize("shape", [(16, 24), (3, 4000), (4000, 3)])
def test_skip_comparison_of_an_image_that_is_not_square(shape):
    """The eliret pair runs at the image's own size: a landscape image or a thin strip gives a picture
    and finite figures (it once answered with numpy's concatenation message, and NaN for a strip)."""
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    result = inside.skip_comparison(image, "eliret")
    assert result.picture.ndim == 3 and result.picture.shape[1] > 300
    figures = [value for values in result.detail.values() for value in values.values()]
    assert figures and all(np.isfinite(figures)) and any(value > 0 for value in figures)


# --------------------------------------------------------------------------- pyramid


@pytest.fixture(scope="module")
def small_pspnet():
    """A PSPNet-50 with random weights at 48×48 (a 6×6 feature map), 5 classes."""
    import keras

    keras.utils.set_random_seed(3)
    model = architectures.build_pspnet(50, classes=5, input_size=48)
    batch = np.random.default_rng(0).normal(0, 60, (1, 48, 48, 3)).astype(np.float32)
    return model, batch


def _run(model, names, batch):
    import keras

    outputs = keras.Model(model.inputs, [model.get_layer(name).output for name in names])(batch)
    return [np.asarray(output) for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def test_pyramid_probe_all_on_is_the_network(small_pspnet):
    model, batch = small_pspnet
    probe = inside.PyramidProbe(model)
    concat, conv6 = _run(model, ["conv5_3_concat", "conv6"], batch)
    shares = probe.contributions(concat)
    assert list(shares) == [
        "conv5_3_relu",
        "conv5_3_pool6_interp",
        "conv5_3_pool3_interp",
        "conv5_3_pool2_interp",
        "conv5_3_pool1_interp",
    ]
    np.testing.assert_allclose(probe.head_from(shares), conv6, atol=1e-4)


def test_each_branch_switched_off_changes_the_output(small_pspnet):
    model, batch = small_pspnet
    probe = inside.PyramidProbe(model)
    (concat,) = _run(model, ["conv5_3_concat"], batch)
    shares = probe.contributions(concat)
    full = probe.head_from(shares)
    for bins in (1, 2, 3, 6):
        ablated = probe.head_from(shares, (bins,))
        assert np.abs(ablated - full).max() > 1e-2, bins
        # Zeroing the branch's channels and running every head layer gives the same.
        np.testing.assert_allclose(ablated, probe.head_reference(concat, (bins,)), atol=1e-4)


def test_all_branches_off_equals_the_network_without_the_pyramid(small_pspnet):
    """The network without the pyramid: conv5_4 sees only the 2048 feature channels (its kernel's
    first 2048 input channels), then the same batch normalisation, ReLU and conv6."""
    import keras

    model, batch = small_pspnet
    probe = inside.PyramidProbe(model)
    features, concat = _run(model, ["conv5_3_relu", "conv5_3_concat"], batch)
    conv = model.get_layer("conv5_4")
    without = keras.layers.Conv2D(512, 3, padding="same", use_bias=False)
    without.build(features.shape)
    without.set_weights([conv.get_weights()[0][:, :, : features.shape[-1], :]])
    x = without(features)
    for name in ("conv5_4_bn", "conv5_4_relu", "conv6"):
        x = model.get_layer(name)(x, training=False)
    off = probe.head_from(probe.contributions(concat), (1, 2, 3, 6))
    np.testing.assert_allclose(off, np.asarray(x), atol=1e-4)
    assert np.abs(off - probe.head_from(probe.contributions(concat))).max() > 1e-2


def test_branch_component_follows_the_branch():
    rows = np.linspace(0, 1, 12)[:, None] * np.ones((12, 12))
    branch = np.stack([rows * 3, rows * -1 + 2, np.ones_like(rows)], axis=-1)
    component = inside.branch_component(branch)
    assert np.corrcoef(component.ravel(), rows.ravel())[0, 1] > 0.999
    assert not inside.branch_component(np.ones((6, 6, 4))).any()  # the 1×1 branch: one value


def test_receptive_field_by_hand():
    """3×3 conv → 3×3 stride-2 conv → 3×3 dilation-2 conv: 1 + 2 + 2·1 + 2·2·2 = 13 pixels."""
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(1, 3, padding="same", name="a")(inputs)
    x = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="b")(x)
    x = keras.layers.Conv2D(1, 3, dilation_rate=2, padding="same", name="c_dilated")(x)
    model = keras.Model(inputs, x)
    field = inside.receptive_fields(model, "c_dilated")
    assert (field.jump, field.size) == (2, 13)
    assert field.span(5)[0] <= 10 <= field.span(5)[1]  # cell 5 sees around input pixel 10
    assert inside.receptive_fields(model, "c_dilated", ("c_",)).size == 9


def test_pspnet_receptive_field_shrinks_without_dilations(small_pspnet):
    model, _ = small_pspnet
    dilated = inside.receptive_fields(model, "conv5_3_relu")
    plain = inside.receptive_fields(model, "conv5_3_relu", ("conv4_", "conv5_"))
    assert dilated.jump == plain.jump == 8
    # Stage 4 (6 units, dilation 2) and stage 5 (3 units, dilation 4): each 3×3 adds (d - 1)·2·8 pixels more.
    assert dilated.size - plain.size == (6 * 1 * 2 + 3 * 3 * 2) * 8


@pytest.mark.slow
def test_pyramid_view_through_the_runtime(random_published, monkeypatch):
    """The published layout with random weights (PSPNet-50 at 473): branches, class maps, table."""
    spec = registry.get("pspnet_ade20k")
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(random_published(spec.key, 0)))
    runtime.clear()
    try:
        photo = np.zeros((240, 320, 3), np.uint8)
        photo[:120] = (120, 170, 230)
        photo[120:, :160] = (90, 130, 60)
        result = inside.pyramid(photo, "pspnet_ade20k", "original", off=(1, 2))
        # The 320 × 240 photo fills 473 × 355 of the letterboxed input: 45 rows × 60 columns of 1/8 cells.
        assert result.labels["all"].shape == (45, 60)
        expected_all = (result.labels["all"] != result.labels["none"]).sum()
        rows = {tuple(change["off"]): change for change in result.changes}
        assert set(rows) == {(1,), (2,), (3,), (6,), (1, 2), (1, 2, 3, 6)}
        assert rows[(1, 2, 3, 6)]["cells"] == expected_all > 0
        assert rows[(1, 2)]["cells"] == (result.labels["all"] != result.labels["off"]).sum()
        # With every branch on, the class map is the network's own: the top class of its raw output.
        loaded = runtime.get("pspnet_ade20k", "original")
        prepared = spec.pipeline("original").preprocess(photo)
        own = np.argmax(loaded.raw(prepared.batch)[0, :45, :60], axis=-1)
        assert (own != result.labels["all"]).mean() < 0.002  # at most a near-tie or two
        assert result.branches_picture.shape[2] == 3 and result.maps_picture.shape[2] == 3
        json.dumps(result.summary())
        again = inside.pyramid(photo, "pspnet_ade20k", "original", off=(6,))
        assert again.network_seconds == 0.0  # the network ran once for this photo
        with pytest.raises(ValueError, match="1, 2, 3 and 6"):
            inside.pyramid(photo, "pspnet_ade20k", off=(4,))
        view = inside.receptive_field(photo, "pspnet_ade20k", "original", (0.5, 0.5))
        assert view.fields["with_dilations"]["size_input_pixels"] > view.fields["without_dilations"]["size_input_pixels"]
    finally:
        runtime.clear()


def test_pyramid_refuses_other_models(eliret_image):
    with pytest.raises(ValueError, match="PSPNet"):
        inside.pyramid(eliret_image, "unet")


# --------------------------------------------------------------------------- building blocks

IMAGE = np.array([[1, 2, 0, 1], [0, 3, 1, 2], [2, 1, 4, 0], [1, 0, 2, 3]], np.float32)
KERNEL = np.array([[1, 0, -1], [2, 1, 0], [0, 1, 3]], np.float32)  # asymmetric: catches a flipped kernel


def _correlate(image, kernel, stride, dilation, pad_before, out_size):
    """Cross-correlation (what Conv2D computes) by loops, with zeros outside the image."""
    output = np.zeros((out_size, out_size), np.float32)
    for row in range(out_size):
        for column in range(out_size):
            total = 0.0
            for i in range(3):
                for j in range(3):
                    r, c = row * stride - pad_before + i * dilation, column * stride - pad_before + j * dilation
                    if 0 <= r < image.shape[0] and 0 <= c < image.shape[1]:
                        total += image[r, c] * kernel[i, j]
            output[row, column] = total
    return output


def test_conv_stride2_by_hand():
    # 'same' on 4 pixels with stride 2: 2 outputs; TensorFlow pads 1 pixel, after the image.
    expected = _correlate(IMAGE, KERNEL, stride=2, dilation=1, pad_before=0, out_size=2)
    np.testing.assert_allclose(inside.building_block(IMAGE, "conv_stride2", KERNEL), expected)
    np.testing.assert_allclose(
        inside.building_block(IMAGE, "conv_stride2", KERNEL, "valid"), _correlate(IMAGE, KERNEL, 2, 1, 0, 1)
    )
    # One value worked out on paper: rows 0-2, columns 0-2 of the image times the kernel.
    assert expected[0, 0] == 1 * 1 + 2 * 0 + 0 * -1 + 0 * 2 + 3 * 1 + 1 * 0 + 2 * 0 + 1 * 1 + 4 * 3


def test_dilated_conv_by_hand():
    expected = _correlate(IMAGE, KERNEL, stride=1, dilation=2, pad_before=2, out_size=4)
    np.testing.assert_allclose(inside.building_block(IMAGE, "dilated_conv", KERNEL), expected)


def test_transposed_conv_by_hand():
    # Each input pixel stamps value × kernel at (2i, 2j); 'same' keeps the first 8×8 of the 9×9.
    full = np.zeros((9, 9), np.float32)
    for row in range(4):
        for column in range(4):
            full[2 * row : 2 * row + 3, 2 * column : 2 * column + 3] += IMAGE[row, column] * KERNEL
    np.testing.assert_allclose(inside.building_block(IMAGE, "transposed_stride2", KERNEL, "valid"), full)
    np.testing.assert_allclose(inside.building_block(IMAGE, "transposed_stride2", KERNEL, "same"), full[:8, :8])


def test_pooling_and_upsampling_by_hand():
    np.testing.assert_array_equal(inside.building_block(IMAGE, "max_pool"), [[3, 2], [2, 4]])
    nearest = inside.building_block(IMAGE[:2, :2], "upsample_nearest")
    np.testing.assert_array_equal(nearest, [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 3, 3], [0, 0, 3, 3]])
    # Bilinear with half-pixel centres: output pixel x samples input (x + 0.5) / 2 - 0.5, clamped.
    positions = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, 3)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, 3)
    weight = positions - low
    rows = IMAGE[low] * (1 - weight)[:, None] + IMAGE[high] * weight[:, None]
    expected = rows[:, low] * (1 - weight)[None, :] + rows[:, high] * weight[None, :]
    np.testing.assert_allclose(inside.building_block(IMAGE, "upsample_bilinear"), expected, atol=1e-5)


def test_building_block_refuses_bad_tables():
    with pytest.raises(ValueError, match="table of numbers"):
        inside.building_block([["a", "b"], ["c", "d"]], "max_pool")
    with pytest.raises(ValueError, match="3×3"):
        inside.building_block(IMAGE, "conv_stride2", np.ones((2, 2)))
    with pytest.raises(ValueError, match="Unknown operation"):
        inside.building_block(IMAGE, "fft")
    with pytest.raises(ValueError, match="1 to 12"):
        inside.building_block(np.ones((20, 20)), "max_pool")
    picture, output = inside.building_block_picture(IMAGE, "transposed_stride2")
    assert output.shape == (8, 8) and picture.shape[2] == 3


@pytest.mark.parametrize(
    ("image", "kernel", "named"), [(None, KERNEL, "image"), (IMAGE, None, "kernel"), (IMAGE, [["a"] * 3] * 3, "kernel")]
)
def test_the_playground_names_the_table_that_is_wrong(image, kernel, named):
    """The tab's handler says which table (the image or the kernel) holds something that is not numbers."""
    import gradio as gr

    from ui.tabs.inside import blocks

    values = lambda table: None if table is None else {"data": np.asarray(table).tolist()}  # noqa: E731
    with pytest.raises(gr.Error) as error:
        blocks.run_building_block(values(image), values(kernel), "conv_stride2", "same", None)
    assert error.value.message == f"The {named} must be a table of numbers."


# --------------------------------------------------------------------------- model cards


def test_multiply_adds_of_the_fcn_by_hand():
    model = runtime.get("fcn").model
    downs = 16 * 16 * 32 * 25 * 1 + 8 * 8 * 64 * 25 * 32 + 4 * 4 * 128 * 25 * 64
    # Transposed: every input value is multiplied by the whole 5×5×C_out kernel.
    ups = 4 * 4 * 128 * 25 * 64 + 8 * 8 * 64 * 25 * 32 + 16 * 16 * 32 * 25 * 1
    assert inside.multiply_adds(model, (32, 32, 1)) == downs + ups


def test_model_card_of_a_trained_model():
    card = inside.model_card("unet")
    model = runtime.get("unet").model
    assert card.parameters == model.count_params()
    assert card.seconds is not None and card.seconds > 0
    metrics = json.loads((settings.PROJECT_ROOT / "weights" / "unet.metrics.json").read_text())
    assert card.training == {name: value for name, value in metrics.items() if name != "history"}
    assert card.lecture_figures == "9–11"
    assert "down1_conv1" in card.summary_text
    assert card.diagram.ndim == 3
    json.dumps(card.summary())


def test_the_diagram_speaks_the_page_language_and_wraps_its_legend():
    """The model card's picture writes its parts' names in Portuguese on the Portuguese page, and
    its legend takes another row when the names do not fit in one."""
    from ui.tabs.inside.cards import DIAGRAM_WORDS_PT

    layers = inside.model_card("membrane_unet_256").layers
    english, portuguese = inside.diagram(layers), inside.diagram(layers, DIAGRAM_WORDS_PT)
    assert english.shape == portuguese.shape
    changed_rows = np.flatnonzero((english != portuguese).any(axis=(1, 2)))
    legend_top = english.shape[0] - 22
    # The input box (the first, at the top) and the legend (at the bottom) change; no box between them.
    assert changed_rows.min() < inside.cards.TOP + 30 and changed_rows.max() >= legend_top
    assert not ((changed_rows > inside.cards.TOP + 36) & (changed_rows < legend_top - 30)).any()
    # In English too the legend names the parts as the layer list does ("skip connection", not the key).
    keys = inside.diagram(layers, {role: role for role in inside.ROLES})
    assert not np.array_equal(keys[legend_top:], english[legend_top:])
    wrapped = inside.diagram(layers, {role: f"{role} {role} {role}" for role in inside.ROLES})
    assert wrapped.shape[0] >= english.shape[0] + 22  # a second row of legend
    assert (wrapped[:, -2:] == 255).all()  # nothing cut at the right edge


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_the_card_shows_the_membrane_figures_at_full_resolution(language):
    """The 256 model is judged at 512×512: those figures, nested in its metrics file, get their
    own row; the file's field names and its kind of labels are said in the page's language."""
    from ui import i18n
    from ui.tabs.inside import cards as inside_cards

    training = inside.model_card("membrane_unet_256").training
    rows = inside_cards._format_training(training, language).splitlines()
    full = training["valid"]["full_resolution"]
    (row,) = [row for row in rows if f"accuracy {full['accuracy']:.4g}" in row]
    assert f"membrane_f1 {full['membrane_f1']:.4g}" in row
    assert i18n.text("sd_inside_field_full_resolution", language) in row
    assert any(training["initialised_from"] in row for row in rows)
    (labels,) = [row for row in rows if i18n.text("sd_inside_field_labels", language) in row]
    assert i18n.text("sd_inside_labels_soft", language) in labels
    assert not any(name in row for row in rows for name in ("batch_size", "train_seconds", "initialised_from"))


# --------------------------------------------------------------------------- the app's endpoints


@pytest.mark.slow
def test_endpoints_of_the_running_app(pspnet_app, eliret_image):
    """/feature_maps, /pyramid (random-weight PSPNet-50 in the published layout: conftest's shared
    pspnet_app), /building_block and /model_card through gradio_client; a bad request gets a
    message and the app keeps serving."""
    from gradio_client import Client, handle_file
    from PIL import Image

    photo = str(samples.photos("pspnet_ade20k")[0].image)
    client = Client(pspnet_app.url, verbose=False)
    picture, summary = client.predict(handle_file(eliret_image), "unet", "down3_conv2", api_name="/feature_maps")
    assert Image.open(picture).size[0] > 100
    assert summary["layer"]["shape"] == [8, 8, 64] and len(summary["channels_shown"]) == 16
    _, default = client.predict(handle_file(eliret_image), "membrane_unet", "", api_name="/feature_maps")
    assert default["layer"]["role"] == "encoder"
    with pytest.raises(Exception, match="no layer named"):
        client.predict(handle_file(eliret_image), "unet", "conv99", api_name="/feature_maps")
    branches, maps, table, pyramid = client.predict(handle_file(photo), "pspnet_ade20k", "original", [1, 6], api_name="/pyramid")
    assert Image.open(branches).size[0] > Image.open(maps).size[0] > 0
    assert [change["off"] for change in pyramid["changes"]] == [[1], [2], [3], [6], [1, 6], [1, 2, 3, 6]]
    assert all(0 <= change["fraction"] <= 1 for change in pyramid["changes"])
    assert len(table["data"]) == 6
    table = {"headers": ["1", "2", "3", "4"], "data": IMAGE.tolist()}
    kernel = {"headers": ["1", "2", "3"], "data": KERNEL.tolist()}
    _, output = client.predict(table, kernel, "max_pool", "same", api_name="/building_block")
    assert output["data"] == [[3, 2], [2, 4]]
    card, _, _, text, facts = client.predict("fcn_skip", api_name="/model_card")
    assert facts["parameters"] == runtime.get("fcn_skip").model.count_params() and "skip1" in text
    assert "multiply-adds" in card


def test_leading_eigenvector_matches_numpy():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(300, 40)) @ np.diag(np.linspace(3, 0.1, 40))
    covariance = values.T @ values
    expected = np.linalg.eigh(covariance)[1][:, -1]
    found = pyramid_pooling._leading_eigenvector(covariance)
    assert abs(abs(float(found @ expected)) - 1.0) < 1e-6


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_the_membrane_card_shows_the_challenge_measures_and_the_papers_figure_as_a_reference(language):
    from ui import i18n
    from ui.tabs.inside import cards

    training = inside.model_card("membrane_unet_256").training
    rows = cards._format_training(training, language).splitlines()
    averaged = training["valid"]["full_resolution_tta"]
    (row,) = [row for row in rows if f"rand_error {averaged['rand_error']:.4g}" in row]
    assert f"pixel_error {averaged['pixel_error']:.4g}" in row
    assert i18n.text("sd_inside_field_full_resolution_tta", language) in row
    (reference,) = [row for row in rows if i18n.text("sd_inside_unet_paper", language) in row]
    assert "0.0382" in reference
