"""The stages (segdemo.pipelines), the output cache and the runtime's raw/tail split, on real models."""

from __future__ import annotations

import numpy as np
import pytest

import segdemo
from segdemo import output_cache, pipelines, registry, runtime
from segdemo.architectures.pspnet import build_pspnet
from segdemo.output_cache import OutputCache
from segdemo.pipelines import BinaryPipeline, Dense, Prepared, pspnet_pipelines


@pytest.fixture()
def counted_raw(monkeypatch):
    """Counts the network runs of every loaded model (the real networks still run)."""
    calls = []
    original = runtime.LoadedModel.runner  # what predict() runs the network through, whatever the engine

    def runner(self):
        mode, run = original(self)

        def counted(batch):
            calls.append(self.spec.key)
            return run(batch)

        return mode, counted

    monkeypatch.setattr(runtime.LoadedModel, "runner", runner)
    output_cache.CACHE.clear()
    return calls


def test_a_new_threshold_or_opacity_does_not_run_the_network_again(eliret_dir, counted_raw):
    image = eliret_dir / "maior2x.png"
    first = segdemo.predict(image, "unet", 0.5)
    second = segdemo.predict(image, "unet", 0.9, opacity=0.2)
    assert counted_raw == ["unet"]
    assert (first.cached, second.cached) == (False, True)
    np.testing.assert_array_equal(first.scores, second.scores)
    # The render stage did run again: fewer pixels pass the higher threshold, paler overlay.
    assert second.labels.sum() < first.labels.sum()
    assert not np.array_equal(first.overlay, second.overlay)
    np.testing.assert_array_equal(second.labels, (first.scores >= 0.9).astype(np.int32))


def test_another_image_or_model_runs_the_network(eliret_dir, counted_raw):
    segdemo.predict(eliret_dir / "076x.png", "unet")
    segdemo.predict(eliret_dir / "078x.png", "unet")
    segdemo.predict(eliret_dir / "078x.png", "fcn")
    segdemo.predict(eliret_dir / "078x.png", "fcn")
    assert counted_raw == ["unet", "unet", "fcn"]


def test_when_the_dense_maps_have_left_the_cache_only_the_postprocessing_runs_again(eliret_dir, counted_raw, monkeypatch):
    # Room for one photo's whole entry but many raw outputs (a class's burst of large photos, scaled
    # down: a PSPNet's raw output is a small fraction of its dense maps).
    segdemo.predict(eliret_dir / "076x.png", "unet", 0.5)
    entry_bytes = output_cache.CACHE.nbytes  # one entry: the raw output and the dense maps
    monkeypatch.setattr(output_cache.CACHE, "_budget", int(entry_bytes * 1.5))
    monkeypatch.setattr(output_cache.CACHE, "_raw_budget", entry_bytes * 10)
    output_cache.CACHE.clear()
    counted_raw.clear()
    first = segdemo.predict(eliret_dir / "076x.png", "unet", 0.5)
    segdemo.predict(eliret_dir / "078x.png", "unet", 0.5)  # evicts the first photo's dense maps
    again = segdemo.predict(eliret_dir / "076x.png", "unet", 0.5)
    assert counted_raw == ["unet", "unet"]  # the network did not run for the first photo again
    assert again.cached and output_cache.CACHE.raw_hits == 1
    np.testing.assert_array_equal(again.scores, first.scores)
    np.testing.assert_array_equal(again.overlay, first.overlay)


def test_a_reloaded_model_is_never_served_an_earlier_load_s_outputs(eliret_dir, counted_raw):
    segdemo.predict(eliret_dir / "076x.png", "fcn")
    runtime.clear()  # e.g. other weights: the next load has a new serial
    assert segdemo.predict(eliret_dir / "076x.png", "fcn").cached is False
    assert counted_raw == ["fcn", "fcn"]


@pytest.mark.parametrize("opacity", ["0.5", None, [0.5], float("nan"), 1.5])
def test_opacity_must_be_a_number_in_the_unit_interval(eliret_dir, opacity):
    with pytest.raises(ValueError, match="opacity"):
        segdemo.predict(eliret_dir / "076x.png", "fcn", opacity=opacity)


def test_unknown_pipeline_names_the_choices():
    with pytest.raises(ValueError, match="fully_convolutional"):
        registry.get("fcn").pipeline("original")


def _entry(nbytes: int) -> tuple:
    scores = np.zeros(nbytes // 8, np.float32)
    return np.zeros(0, np.float32), Prepared(np.zeros((1, 1, 1, 1), np.float32), (1, 1), (1, 1)), Dense(scores, scores.copy())


def test_output_cache_is_bounded_by_bytes_least_recently_used_first():
    cache = OutputCache(budget=3000)
    cache.put("a", *_entry(1000))
    cache.put("b", *_entry(1000))
    cache.put("c", *_entry(1000))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", *_entry(1000))
    assert (cache.get("b"), len(cache), cache.nbytes) == (None, 3, 3000)
    assert all(cache.get(key) is not None for key in "acd")
    cache.put("huge", *_entry(8000))  # larger than the budget: not kept, nothing evicted for it
    assert cache.get("huge") is None and len(cache) == 3


def test_an_array_shared_by_the_dense_maps_counts_once():
    scores = np.zeros(250, np.float32)
    assert Dense(scores, scores).nbytes == 1000 and Dense(scores, scores.copy()).nbytes == 2000


def test_output_cache_budget_setting(monkeypatch):
    monkeypatch.setenv("SEGDEMO_OUTPUT_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="SEGDEMO_OUTPUT_CACHE_MB='lots' is not a whole number"):
        output_cache.budget_bytes()
    monkeypatch.setenv("SEGDEMO_OUTPUT_CACHE_MB", "2")
    assert output_cache.budget_bytes() == 2 * 2**20


def test_binary_pipeline_pads_to_the_multiple_and_crops_back():
    pipeline = BinaryPipeline("fully_convolutional", size_multiple=8, linear_output=True)
    pixels = (np.arange(21 * 30) % 256).astype(np.uint8).reshape(21, 30)
    prepared = pipeline.preprocess(pixels)
    assert prepared.batch.shape == (1, 24, 32, 1) and prepared.valid == (21, 30)
    np.testing.assert_array_equal(prepared.batch[0, :21, :30, 0], pixels / np.float32(255))
    # Padding reflects the image: row 21 repeats row 19, column 30 repeats column 28.
    np.testing.assert_array_equal(prepared.batch[0, 21, :30, 0], prepared.batch[0, 19, :30, 0])
    raw = np.full((1, 24, 32, 1), 1.7, np.float32)
    raw[0, :21, :30, 0] = -0.5
    dense = pipeline.postprocess(raw, prepared)
    assert dense.scores.shape == (21, 30) and np.all(dense.scores == 0.0)  # cropped, then clipped


def test_binary_pipeline_downscales_very_large_images_and_scales_back():
    pipeline = BinaryPipeline("fully_convolutional", size_multiple=8, max_side=64)
    prepared = pipeline.preprocess(np.zeros((100, 200), np.uint8))
    assert prepared.batch.shape == (1, 32, 64, 1) and prepared.image_size == (100, 200)
    dense = pipeline.postprocess(np.full(prepared.batch.shape, 0.25, np.float32), prepared)
    assert dense.scores.shape == (100, 200) and np.allclose(dense.scores, 0.25)


def test_inverted_pipeline_scores_the_complement():
    pipeline = BinaryPipeline("resize", input_size=(16, 16), inverted=True)
    prepared = pipeline.preprocess(np.zeros((40, 40), np.uint8))
    dense = pipeline.postprocess(np.full((1, 16, 16, 1), 0.2, np.float32), prepared)
    assert np.allclose(dense.grey, 0.2) and np.allclose(dense.scores, 0.8)


def test_pspnet_pipelines_letterbox_or_stretch():
    original, library = pspnet_pipelines(101, 473)
    assert original.network_options["stride_on"] == "3x3" and library.network_options["stride_on"] == "1x1_reduce"
    photo = np.zeros((200, 400, 3), np.uint8)
    photo[..., 0] = 200  # red
    boxed = original.preprocess(photo)
    # Long side to 473, aspect kept; BGR order minus the means; the rest is the mean (zero).
    assert boxed.valid == (237, 473)  # 200 × 473 / 400 = 236.5, rounded up
    np.testing.assert_allclose(boxed.batch[0, 0, 0], np.array([0, 0, 200]) - np.array(pipelines.CAFFE_MEAN_BGR), rtol=1e-6)
    assert np.all(boxed.batch[0, 237:] == 0)
    stretched = library.preprocess(photo)
    # Stretched to the square; the library subtracts the BGR means, then flips to RGB order.
    assert stretched.valid == (473, 473)
    np.testing.assert_allclose(
        stretched.batch[0, 400, 0], (np.array([0, 0, 200]) - np.array(pipelines.CAFFE_MEAN_BGR))[::-1], rtol=1e-6
    )


@pytest.mark.parametrize("shape", [(1415, 2121), (473, 473), (100, 150), (37, 900), (300, 7)])
def test_original_pipeline_resizes_as_the_three_channel_float_image_does(shape):
    """The channel-at-a-time resize gives exactly the values of cv2's resize of the whole BGR float
    image (down and up, odd sizes)."""
    import cv2

    rgb = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), np.uint8)
    original, _ = pspnet_pipelines(50, 473)
    prepared = original.preprocess(rgb)
    height, width = prepared.valid
    whole = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    network_input = prepared.batch[0, :height, :width]
    if original.rgb_order:
        network_input = network_input[..., ::-1]
    np.testing.assert_array_equal(network_input, whole - np.float32(original.mean_bgr))


def test_library_pipeline_resizes_the_8_bit_image_before_converting_it():
    """keras-segmentation calls cv2.resize on the decoded uint8 image: resizing floats differs by
    up to half a grey level on non-square photos."""
    import cv2

    _, library = pspnet_pipelines(50, 473)
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (97, 211, 3), dtype=np.uint8)
    expected = cv2.resize(photo[..., ::-1], (473, 473)).astype(np.float32) - np.float32(pipelines.CAFFE_MEAN_BGR)
    np.testing.assert_array_equal(library.preprocess(photo).batch[0], expected[..., ::-1])
    from_floats = cv2.resize(photo[..., ::-1].astype(np.float32), (473, 473)) - np.float32(pipelines.CAFFE_MEAN_BGR)
    assert np.abs(from_floats[..., ::-1] - library.preprocess(photo).batch[0]).max() > 0.1


@pytest.mark.slow
def test_raw_output_and_tail_make_up_the_whole_network():
    """The runtime splits a PSPNet at conv6 (small enough to cache); the tail is the network's own
    resize and softmax, so raw + tail equals the whole model."""
    import keras

    keras.utils.set_random_seed(0)
    model = build_pspnet(50, classes=4, input_size=185)
    head = model.get_layer("conv6")
    truncated = keras.Model(model.inputs, head.output)
    tail = runtime._layers_after(model, "conv6")
    assert [layer.name for layer in tail] == ["conv6_interp", "softmax"]
    x = np.random.default_rng(0).uniform(-100, 100, (1, 185, 185, 3)).astype(np.float32)
    raw = truncated(x)
    assert tuple(raw.shape) == (1, 24, 24, 4)
    for layer in tail:
        raw = layer(raw)
    np.testing.assert_allclose(np.asarray(raw), np.asarray(model(x)), atol=1e-6)
