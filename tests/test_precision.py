"""Precision and engines: "exact" (float32) and "fast" (int8 through OpenVINO, or bfloat16), chosen
from the CPU's flags and what is installed, and kept only where it keeps the lecture's answers.

The guard runs on a small PSPNet-50 (input 137, 6 classes) whose seeded weights were calibrated on
the shipped photos to behave like trained ones (bench/seeded_weights.py: confident, different
classes in different places): "fast" must give the same labels as TensorFlow float32 on at least
99.5 % of the pixels (segdemo.engines.GUARD_AGREEMENT). On a CPU without native bfloat16 the
bfloat16 network is emulated here (slow, but the same arithmetic); the app itself never runs it there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.published_weights import calibration_batch
from bench.seeded_weights import apply_seeded_weights, make_trained_like
from segdemo import architectures, engines, health, images, registry, runtime, samples, settings

CPUINFO_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
CPUINFO_AVX2 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"
# 137 px: a 1/8 feature map of 18 cells, which the pyramid's 6×6 branch divides, and 5 or more
# classes over the photos; about 30 % less work than 185 px in the OpenVINO test's conversion,
# calibration and measurement (the verdicts here are those of 185 px: int8 loses labels, OpenVINO
# bfloat16 is chosen).
SMALL = {"layers": 50, "classes": 6, "input_size": 137}
SIDE = SMALL["input_size"]


def test_cpu_flags_are_read_from_cpuinfo():
    assert settings.cpu_flags(CPUINFO_BF16) >= {"avx512_bf16", "avx2"}
    assert settings.native_bf16(settings.cpu_flags(CPUINFO_BF16))
    assert not settings.native_bf16(settings.cpu_flags(CPUINFO_AVX2))
    assert settings.native_bf16(frozenset({"amx_bf16"}))
    assert settings.cpu_flags("no flags here") == frozenset()


@pytest.mark.parametrize(
    ("cpuinfo", "environ", "expected"),
    [
        # OpenVINO is installed (requirements.txt): int8 can make any CPU fast, so "fast" is the default.
        (CPUINFO_AVX2, {}, ("fast", "auto")),
        (CPUINFO_BF16, {}, ("fast", "auto")),
        # TensorFlow only: fast means bfloat16, which only a CPU with native bfloat16 runs faster.
        (CPUINFO_AVX2, {"SEGDEMO_ENGINE": "tensorflow"}, ("exact", "tensorflow")),
        (CPUINFO_BF16, {"SEGDEMO_ENGINE": " TensorFlow "}, ("fast", "tensorflow")),
        (CPUINFO_BF16, {"SEGDEMO_PRECISION": "exact"}, ("exact", "auto")),
        (CPUINFO_AVX2, {"SEGDEMO_PRECISION": " Fast ", "SEGDEMO_ENGINE": "openvino"}, ("fast", "openvino")),
    ],
)
def test_defaults_follow_the_cpu_and_the_engines_and_variables_force(cpuinfo, environ, expected):
    chosen = settings.from_environ(environ, flags=settings.cpu_flags(cpuinfo))
    assert (chosen.precision, chosen.engine) == expected


def test_bad_precision_or_engine_is_refused_with_what_to_do():
    avx2 = settings.cpu_flags(CPUINFO_AVX2)
    with pytest.raises(settings.SettingsError, match="needs OpenVINO .int8. or a CPU with native bfloat16"):
        settings.from_environ({"SEGDEMO_PRECISION": "fast", "SEGDEMO_ENGINE": "tensorflow"}, flags=avx2)
    with pytest.raises(settings.SettingsError, match="SEGDEMO_PRECISION='half'"):
        settings.from_environ({"SEGDEMO_PRECISION": "half"}, flags=frozenset())
    with pytest.raises(settings.SettingsError, match="SEGDEMO_ENGINE='onnx' is not an engine"):
        settings.from_environ({"SEGDEMO_ENGINE": "onnx"}, flags=avx2)


def test_candidates_put_int8_first_and_float32_last():
    def labels(*args):
        return [mode.label for mode in engines.candidates(*args)]

    assert labels("fast", "auto", False) == ["OpenVINO int8", "OpenVINO float32", "TensorFlow float32"]
    assert labels("fast", "auto", True) == ["OpenVINO int8", "OpenVINO bfloat16", "OpenVINO float32", "TensorFlow float32"]
    assert labels("exact", "auto", True) == ["OpenVINO float32", "TensorFlow float32"]
    assert labels("fast", "tensorflow", True) == ["TensorFlow bfloat16", "TensorFlow float32"]
    assert labels("exact", "tensorflow", False) == ["TensorFlow float32"]


def test_health_reports_precision_engine_and_deciding_flags():
    report = health.report()
    assert report["precision"] == runtime.precision() == settings.get().precision
    assert report["engine"] == settings.get().engine
    assert set(report["cpu_flags"]["present"]) == settings.cpu_flags() & set(report["cpu_flags"]["checked"])
    assert {"avx512_bf16", "avx512_vnni", "avx2"} <= set(report["cpu_flags"]["checked"])
    assert report["device"] is None or report["device"] == "CPU" or report["device"].startswith("GPU: ")


def test_small_models_stay_exact():
    loaded = runtime.LoadedModel(registry.get("fcn"), precision="fast")
    assert loaded.precision == "exact"
    assert loaded.model.compute_dtype == "float32"
    assert loaded.mode == engines.REFERENCE and loaded.openvino_modes == []


def test_agreement_counts_labels_and_top_probabilities():
    reference = np.zeros((1, 2, 2, 3), np.float32)
    reference[..., 0] = 0.9
    other = reference.copy()
    other[0, 0, 0] = [0.1, 0.8, 0.1]  # one pixel of four changes class
    found = engines.agreement([reference, reference], [reference, other])
    assert found.labels == pytest.approx(7 / 8) and found.worst_photo == pytest.approx(0.75)
    assert found.top_difference == pytest.approx(0.1 / 4 / 2)
    assert not found.passes(exact=False)
    assert engines.agreement([reference], [reference]).passes(exact=True)


@pytest.fixture(scope="module")
def small_spec():
    return registry.reduced_pspnet("pspnet_ade20k", **SMALL)


def _build(spec, precision: str):
    with runtime.dtype_policy(precision):
        return architectures.build(spec.architecture, **spec.arch_kwargs, **spec.default_pipeline.network_options)


@pytest.fixture(scope="module")
def trained_like(small_spec, tmp_path_factory):
    """The small network with trained-like weights, saved as a Keras 3 weights file."""
    model = _build(small_spec, "exact")
    report = make_trained_like(model, calibration_batch(small_spec), seed=3)
    folder = tmp_path_factory.mktemp("weights")
    model.save_weights(folder / small_spec.weights_file)
    return folder, report


def _loaded(spec, precision: str, folder) -> runtime.LoadedModel:
    model = _build(spec, precision)
    model.load_weights(folder / spec.weights_file)
    return runtime.LoadedModel(spec, precision=precision, model=model)


def _dense(loaded: runtime.LoadedModel, pixels: np.ndarray):
    prepared = loaded.pipeline.preprocess(pixels)
    return loaded.pipeline.postprocess(loaded(prepared.batch), prepared)


@pytest.fixture(scope="module")
def photos():
    return [images.load(photo.image) for photo in samples.photos()]


@pytest.fixture(scope="module")
def exact_results(small_spec, photos, trained_like):
    exact = _loaded(small_spec, "exact", trained_like[0])
    return [_dense(exact, pixels) for pixels in photos]


@pytest.mark.slow
def test_trained_like_weights_are_confident_and_depend_on_the_image(trained_like, exact_results):
    """What the guard needs: flat random scores flip labels on any rounding, these do not."""
    report = trained_like[1]
    assert report["confidence"] == pytest.approx(0.85, abs=0.02)
    tops = np.concatenate([result.scores.ravel() for result in exact_results])
    assert tops.mean() > 0.6
    classes_per_photo = [len(np.unique(result.labels)) for result in exact_results]
    assert max(classes_per_photo) >= 3 and len(set().union(*(np.unique(r.labels) for r in exact_results))) >= 5


@pytest.mark.slow
def test_tensorflow_bfloat16_passes_the_guard(small_spec, photos, exact_results, trained_like):
    fast = _loaded(small_spec, "fast", trained_like[0])
    assert fast.model.get_layer("conv1_1_3x3_s2").compute_dtype == "bfloat16"
    assert fast.mode.label == "TensorFlow bfloat16"
    assert fast.raw(np.zeros((1, SIDE, SIDE, 3), np.float32)).dtype == np.float32
    equal = pixels = 0
    for image, exact in zip(photos, exact_results):
        dense = _dense(fast, image)
        equal += int((dense.labels == exact.labels).sum())
        pixels += dense.labels.size
        assert float(np.abs(dense.scores - exact.scores).mean()) <= engines.GUARD_TOP_DIFFERENCE
    assert equal / pixels >= engines.GUARD_AGREEMENT, f"{equal / pixels:.4%} of the labels agree"


@pytest.mark.slow
def test_the_guard_can_fail(small_spec, photos, exact_results):
    """Another network (other weights) is far outside the guard: it measures something."""
    other = _build(small_spec, "exact")
    apply_seeded_weights(other, 4)
    dense = _dense(runtime.LoadedModel(small_spec, precision="exact", model=other), photos[0])
    assert float((dense.labels == exact_results[0].labels).mean()) < engines.GUARD_AGREEMENT


def test_a_mode_that_breaks_is_skipped_and_float32_kept():
    photos = list(np.random.default_rng(0).random((2, 1, 4, 4, 3)).astype(np.float32))

    def build(mode):
        raise RuntimeError(f"no {mode.label} here")

    chosen, run, verdicts = engines.choose(
        [engines.Mode(engines.OPENVINO, "int8"), engines.REFERENCE],
        build,
        lambda batch: batch * 2.0,
        lambda raw: raw,
        photos,
        log=lambda line: None,
    )
    assert chosen == engines.REFERENCE
    assert [verdict.passed for verdict in verdicts] == [False, True]
    assert "no OpenVINO int8 here" in verdicts[0].reason


@pytest.mark.slow
def test_openvino_is_measured_once_then_reused(small_spec, trained_like, photos, exact_results, monkeypatch):
    """The real thing on the small network: conversion, int8 quantization, the measurement against
    TensorFlow float32 in a child process, the verdict written to the cache folder, the chosen model
    compiled here, and the verdict read back by the next load."""
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(trained_like[0]))
    monkeypatch.setenv("SEGDEMO_PRECISION", "fast")
    monkeypatch.setenv("SEGDEMO_ENGINE", "openvino")
    lines = []
    loaded = runtime.LoadedModel(small_spec)
    assert loaded.mode == engines.REFERENCE  # TensorFlow float32 serves until the measurement ends
    assert loaded.openvino_modes[0] == engines.Mode(engines.OPENVINO, "int8")
    chosen = runtime.optimise(loaded, log=lines.append)
    assert loaded.mode == chosen
    assert any(line.startswith(f"{small_spec.key}: measuring OpenVINO int8") for line in lines), lines  # the child's lines
    [verdict_file] = settings.cache_dir().glob("engines/**/verdict.json")
    verdict = json.loads(verdict_file.read_text())
    assert verdict["chosen"] == chosen.slug and verdict["precision"] == "fast"
    tried = {entry["mode"]: entry for entry in verdict["verdicts"]}
    assert "openvino-int8" in tried and tried["openvino-int8"]["labels"] is not None
    assert (verdict_file.parent / "int8.xml").is_file() and (verdict_file.parent / "float32.xml").is_file()
    # The weightless tail is kept beside a verdict for OpenVINO: the next start needs no Keras network.
    assert (verdict_file.parent / runtime.TAIL_FILE).is_file() == (chosen.engine == engines.OPENVINO)
    for entry in verdict["verdicts"]:  # what was chosen passed; nothing before it did
        if entry["mode"] == chosen.slug:
            assert entry["passed"]
            break
        assert not entry["passed"]
    if chosen != engines.REFERENCE:
        # What runs now keeps the labels on every shipped photo, through the app's own path.
        equal = pixels = 0
        for image, exact in zip(photos, exact_results):
            dense = _dense(loaded, image)
            equal += int((dense.labels == exact.labels).sum())
            pixels += dense.labels.size
        tolerance = engines.EXACT_AGREEMENT if chosen.exact else engines.GUARD_AGREEMENT
        assert equal / pixels >= tolerance
    # The next start reads the verdict and measures nothing (no child, no "measuring" line). Where
    # OpenVINO won, it serves from the first request without building the Keras network at all.
    before = len(lines)
    again = runtime.LoadedModel(small_spec)
    if chosen == engines.REFERENCE:
        assert runtime.optimise(again, log=lines.append) == chosen == again.mode
        assert len(lines) == before + 1 and "measured before" in lines[-1], lines[before:]
        return
    assert again.mode == chosen and again._model is None
    np.testing.assert_array_equal(_dense(again, photos[0]).labels, _dense(loaded, photos[0]).labels)
    assert again._model is None  # the tail came from the cache folder too
    assert runtime.optimise(again, log=lines.append) == chosen == again.mode
    assert len(lines) == before, lines[before:]
    assert again.model is not None and again.intermediate(np.zeros((1, SIDE, SIDE, 3), np.float32), ["conv6"])  # on demand


def test_shaped_stem_filters_follow_the_photos_and_keep_their_norms():
    """docs/int8.md's "shaped_stem" stand-in: each first-layer filter, multiplied by the root of the
    patch covariance, responds more strongly to smooth images per unit of norm (never less: Cauchy-Schwarz)."""
    import cv2
    import keras

    from bench import seeded_weights

    rng = np.random.default_rng(0)
    smooth = np.stack([cv2.GaussianBlur(rng.normal(size=(48, 48, 3)), (0, 0), 3) for _ in range(4)]).astype(np.float32)
    inputs = keras.Input((48, 48, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs))
    before = model.layers[1].get_weights()[0]
    seeded_weights._shape_first_convolution(model, smooth)
    after = model.layers[1].get_weights()[0]

    def response_per_norm(kernel):
        response = np.asarray(keras.ops.conv(smooth, kernel, padding="same"))
        return response.reshape(-1, kernel.shape[-1]).std(axis=0) / np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), axis=0)

    np.testing.assert_allclose(
        np.linalg.norm(after.reshape(-1, 16), axis=0), np.linalg.norm(before.reshape(-1, 16), axis=0), rtol=1e-5
    )
    gain = response_per_norm(after) / response_per_norm(before)
    assert (gain > 0.999).all() and np.median(gain) > 1.5, gain


def test_an_unknown_stand_in_is_refused():
    with pytest.raises(ValueError, match="stand_in must be one of"):  # before any weight is touched
        make_trained_like(None, np.zeros((1, SIDE, SIDE, 3), np.float32), seed=0, stand_in="whitened")
