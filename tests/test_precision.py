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
import subprocess
import sys

import numpy as np
import pytest

from bench.published_weights import calibration_batch
from bench.seeded_weights import apply_seeded_weights, make_trained_like
from segdemo import architectures, cpu, engines, health, images, registry, runtime, samples, settings

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


def test_a_verdict_names_its_machine_and_is_measured_again_on_another(tmp_path):
    """A cache folder can outlive its hardware (a Space's persistent storage when the hardware
    changes): which modes were candidates and which ran faster were measured on one CPU and one
    number of cores. A verdict names them; on another machine it is not reused."""
    if cpu.usable_cores() < 2:
        pytest.skip("needs two usable cores to compare with one")
    here = settings.machine()
    assert settings.cpu_model() in here and f"{cpu.usable_cores()} cores" in here
    found = engines.Agreement(0.998, 0.99, 0.004)
    verdict = engines.Verdict(engines.Mode(engines.OPENVINO, "int8"), found, 0.5, 1.5, True)
    engines.write_verdict(tmp_path, "fast", verdict.mode, [verdict], here)
    assert engines.read_verdict(tmp_path, here)["chosen"] == "openvino-int8"
    # The same code, allowed one core only: another machine as far as timings go.
    one_core = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from segdemo import settings; print(settings.machine())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert one_core.endswith(here.split("; ", 2)[2]) and "; 1 cores; " in one_core
    assert engines.read_verdict(tmp_path, one_core) is None
    assert engines.read_verdict(tmp_path) is not None  # kept on disk: the next measurement rewrites it


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
    assert verdict["chosen"] == chosen.slug and verdict["precision"] == "fast" and verdict["machine"] == settings.machine()
    tried = {entry["mode"]: entry for entry in verdict["verdicts"]}
    assert "openvino-int8" in tried and tried["openvino-int8"]["labels"] is not None
    assert (verdict_file.parent / "int8.xml").is_file() and (verdict_file.parent / "float32.xml").is_file()
    # bfloat16 (on a CPU that has it) was measured on its own model, the weights stored in bfloat16.
    assert (verdict_file.parent / "bfloat16.xml").is_file() == ("openvino-bfloat16" in tried)
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
    # Read back on another machine, the same verdict is not reused: the next start measures again.
    verdict["machine"] = "another CPU; 64 cores; avx2"
    verdict_file.write_text(json.dumps(verdict))
    assert runtime._cached_openvino(runtime.LoadedModel(small_spec)) is None


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


def _bfloat16_rounded(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16 (to nearest, ties to even), back in float32: by adding half
    a unit of bfloat16's last place, in float64, where the sum is exact, then dropping 16 bits."""
    values = np.asarray(values, np.float32)
    exponent = np.frexp(values)[1].astype(np.float64)
    unit = np.ldexp(1.0, (exponent - 8).astype(np.int64))  # bfloat16 keeps 8 significant bits
    return (np.round(values.astype(np.float64) / unit) * unit).astype(np.float32)


def test_bfloat16_model_stores_each_convolutions_weights_once_rounded(tmp_path):
    """The bfloat16 mode's own model (segdemo.engines.save_with_bfloat16_weights): convolution
    weights stored in bfloat16 behind a conversion OpenVINO treats as decompression, half the bytes,
    each weight rounded to nearest; biases stay float32. Compiled in float32 it computes exactly the
    float32 network with rounded weights."""
    import openvino
    import openvino.opset13 as opset

    rng = np.random.default_rng(7)
    kernels = [rng.standard_normal(shape).astype(np.float32) * 0.3 for shape in ((32, 3, 3, 3), (16, 32, 3, 3))]
    bias = rng.standard_normal((1, 32, 1, 1)).astype(np.float32)

    def network(first, second):
        image = opset.parameter([1, 3, 20, 20], openvino.Type.f32, name="image")
        hidden = opset.convolution(image, opset.constant(first), [1, 1], [1, 1], [1, 1], [1, 1])
        hidden = opset.relu(opset.add(hidden, opset.constant(bias)))
        output = opset.convolution(hidden, opset.constant(second), [1, 1], [0, 0], [0, 0], [1, 1])
        return openvino.Model([output], [image])

    openvino.save_model(network(*kernels), tmp_path / "float32.xml", compress_to_fp16=False)
    stored = engines.save_with_bfloat16_weights(tmp_path / "float32.xml", tmp_path / "bfloat16.xml")
    assert stored == 2
    assert not list(tmp_path.glob("*.part.*"))
    full, halved = ((tmp_path / f"{name}.bin").stat().st_size for name in ("float32", "bfloat16"))
    kernel_bytes = sum(kernel.nbytes for kernel in kernels)
    assert full - halved == kernel_bytes // 2

    model = openvino.Core().read_model(tmp_path / "bfloat16.xml")
    convolutions = [node for node in model.get_ordered_ops() if node.get_type_name() == "Convolution"]
    for convolution, kernel in zip(convolutions, kernels):
        widened = convolution.input_value(1).get_node()
        assert widened.get_type_name() == "Convert"
        assert any(
            key.startswith("decompression") for key in widened.get_rt_info().keys()
        )  # as OpenVINO's float16 compression reads back
        constant = widened.input_value(0).get_node()
        assert constant.get_element_type() == openvino.Type.bf16
    [adding] = [node for node in model.get_ordered_ops() if node.get_type_name() == "Add"]
    assert adding.input_value(1).get_node().get_element_type() == openvino.Type.f32

    batch = rng.standard_normal((1, 3, 20, 20)).astype(np.float32)

    def run(compiled_model) -> np.ndarray:
        return next(
            iter(openvino.Core().compile_model(compiled_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([batch]).values())
        )

    rounded = run(network(*(_bfloat16_rounded(kernel) for kernel in kernels)))
    np.testing.assert_allclose(run(model), rounded, rtol=0, atol=1e-5)
    assert np.abs(run(network(*kernels)) - rounded).max() > 1e-3  # the rounding is there: the check can fail
    # And the app's compilation of it runs (in bfloat16 where the CPU has it, float32 elsewhere).
    served = engines.compile_openvino(model, "bfloat16", 1)(batch)
    assert served.shape == rounded.shape and np.abs(served - rounded).max() < 0.05 * np.abs(rounded).max()


def _resident_bytes(path) -> int:
    """Resident bytes of this process's mappings of the file `path` (/proc/self/smaps)."""
    import os

    target, total, inside = os.path.realpath(path), 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:  # a mapping's header line
                inside = len(fields) == 6 and fields[5] == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total


_FIRST_INFERENCE_PEAK = """
import sys
from pathlib import Path

import numpy as np
import openvino

from segdemo import engines


def peak_mib():
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


xml, release = Path(sys.argv[1]), sys.argv[2] == "release"
network = engines.compile_openvino(
    openvino.Core().read_model(xml), "float32", 1, xml.with_suffix(".bin") if release else None
)
compiled = peak_mib()  # compiling read the whole mapped file: it is resident, as in the app
network(np.ones((1, 8, 8, 256), np.float32))
print(compiled, peak_mib())
"""


def test_the_first_inference_never_holds_the_mapped_weights_and_their_repacked_copy(tmp_path):
    """OpenVINO repacks the weights at the first inference; releasing the mapped file's pages while
    it runs keeps the process's peak about a weights file lower than releasing them after it.
    Measured in fresh processes (VmHWM), the same model with and without the release."""
    import subprocess
    import sys

    import openvino
    import openvino.opset13 as opset

    rng = np.random.default_rng(12)
    image = opset.parameter([-1, 8, 8, 256], openvino.Type.f32, name="image")  # batch left open, as exported
    x = opset.transpose(image, opset.constant(np.array([0, 3, 1, 2], np.int64)))
    for _ in range(24):  # 24 distinct 3×3 convolutions of 256 channels: 57 MB of float32 weights
        kernel = rng.standard_normal((256, 256, 3, 3)).astype(np.float32) * 0.02
        x = opset.relu(opset.convolution(x, opset.constant(kernel), [1, 1], [1, 1], [1, 1], [1, 1]))
    openvino.save_model(openvino.Model([x], [image]), tmp_path / "float32.xml", compress_to_fp16=False)
    file_mib = (tmp_path / "float32.bin").stat().st_size / 2**20

    def growth(release: str) -> float:
        """How much the process's peak grows at the first inference, MiB."""
        completed = subprocess.run(
            [sys.executable, "-c", _FIRST_INFERENCE_PEAK, str(tmp_path / "float32.xml"), release],
            capture_output=True,
            text=True,
            check=True,
        )
        compiled, after = (float(value) for value in completed.stdout.split())
        return after - compiled

    kept = growth("keep")
    if kept < 0.7 * file_mib:
        pytest.skip(f"this OpenVINO did not copy the weights at the first inference (+{kept:.0f} MiB)")
    # The release runs beside the repacking: on a loaded machine it can fall behind, which only
    # raises the peak (seen once in a full parallel run: +31 MiB), so the lowest of three tries counts.
    released = growth("release")
    for _ in range(2):
        if released < 0.5 * file_mib:
            break
        released = min(released, growth("release"))
    assert released < 0.5 * file_mib, (kept, released, file_mib)  # measured: +60 MiB kept, +11 released


def test_the_mapped_weights_are_released_after_the_first_inference(tmp_path):
    """OpenVINO maps a model's weights file and repacks the weights at the first inference; the
    mapped pages are then released (segdemo.cpu.release_file_pages), and later inferences give the
    same numbers without reading them back."""
    import openvino
    import openvino.opset13 as opset

    rng = np.random.default_rng(11)
    image = opset.parameter([1, 64, 24, 24], openvino.Type.f32, name="image")
    kernel = rng.standard_normal((256, 64, 3, 3)).astype(np.float32) * 0.05  # 2.4 MB of weights
    output = opset.convolution(image, opset.constant(kernel), [1, 1], [1, 1], [1, 1], [1, 1])
    openvino.save_model(openvino.Model([output], [image]), tmp_path / "float32.xml", compress_to_fp16=False)
    engines.save_with_bfloat16_weights(tmp_path / "float32.xml", tmp_path / "bfloat16.xml")
    weights_file = tmp_path / "bfloat16.bin"
    network = engines.compile_openvino(openvino.Core().read_model(tmp_path / "bfloat16.xml"), "bfloat16", 1, weights_file)
    batch = rng.standard_normal((1, 64, 24, 24)).astype(np.float32)
    if _resident_bytes(weights_file) == 0:
        pytest.skip("this OpenVINO read the weights without mapping the file")
    first = network(batch)
    assert _resident_bytes(weights_file) == 0
    for _ in range(2):
        np.testing.assert_array_equal(network(batch), first)
    assert _resident_bytes(weights_file) == 0  # not read back
    assert cpu.release_file_pages(tmp_path / "float32.bin") == 0  # a file that is not mapped: nothing to do
