"""Precision: "exact" (float32) and "fast" (bfloat16 PSPNets), chosen from the CPU's flags.

The agreement guard runs on a small PSPNet-50 (input 185, 6 classes, seeded weights) over the
shipped photos: "fast" must give the same labels as "exact" on at least 99.5 % of the pixels and
top-class probabilities within 0.01 on average. On a CPU without native bfloat16 the fast network
is emulated here (slow, but the same arithmetic); the app itself never runs it there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.seeded_weights import apply_seeded_weights
from segdemo import architectures, health, images, registry, runtime, samples, settings
from segdemo.pipelines import pspnet_pipelines

CPUINFO_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
CPUINFO_AVX2 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"
SMALL = {"layers": 50, "classes": 6, "input_size": 185}


def test_cpu_flags_are_read_from_cpuinfo():
    assert settings.cpu_flags(CPUINFO_BF16) >= {"avx512_bf16", "avx2"}
    assert settings.native_bf16(settings.cpu_flags(CPUINFO_BF16))
    assert not settings.native_bf16(settings.cpu_flags(CPUINFO_AVX2))
    assert settings.native_bf16(frozenset({"amx_bf16"}))
    assert settings.cpu_flags("no flags here") == frozenset()


@pytest.mark.parametrize(
    ("cpuinfo", "value", "expected"),
    [
        (CPUINFO_BF16, "", "fast" if settings.FAST_BY_DEFAULT else "exact"),
        (CPUINFO_AVX2, "", "exact"),
        (CPUINFO_BF16, "exact", "exact"),
        (CPUINFO_BF16, " Fast ", "fast"),
    ],
)
def test_default_follows_the_cpu_and_the_variable_forces(cpuinfo, value, expected):
    chosen = settings.from_environ({"SEGDEMO_PRECISION": value}, flags=settings.cpu_flags(cpuinfo))
    assert chosen.precision == expected


def test_fast_is_refused_without_native_bf16():
    with pytest.raises(settings.SettingsError, match="SEGDEMO_PRECISION=fast needs a CPU with native bfloat16"):
        settings.from_environ({"SEGDEMO_PRECISION": "fast"}, flags=settings.cpu_flags(CPUINFO_AVX2))
    with pytest.raises(settings.SettingsError, match="SEGDEMO_PRECISION='half'"):
        settings.from_environ({"SEGDEMO_PRECISION": "half"}, flags=frozenset())


def test_this_machine_runs_what_its_cpu_allows(monkeypatch):
    monkeypatch.delenv("SEGDEMO_PRECISION", raising=False)
    assert runtime.precision() == ("fast" if settings.native_bf16() and settings.FAST_BY_DEFAULT else "exact")
    report = health.report()
    assert report["precision"] == runtime.precision()
    assert report["device"] is None or report["device"] == "CPU" or report["device"].startswith("GPU: ")


def test_small_models_stay_exact():
    loaded = runtime.LoadedModel(registry.get("fcn"), precision="fast")
    assert loaded.precision == "exact"
    assert loaded.model.compute_dtype == "float32"


@pytest.fixture(scope="module")
def small_spec():
    spec = registry.get("pspnet_ade20k")
    return dataclasses.replace(
        spec,
        key="pspnet_small",
        arch_kwargs=SMALL,
        input_size=(SMALL["input_size"],) * 2,
        classes=spec.classes[: SMALL["classes"]],
        palette=spec.palette[: SMALL["classes"]],
        pipelines=pspnet_pipelines(SMALL["layers"], SMALL["input_size"]),
    )


def _loaded(spec, precision: str, seed: int = 3) -> runtime.LoadedModel:
    with runtime.dtype_policy(precision):
        model = architectures.build(spec.architecture, **spec.arch_kwargs, **spec.default_pipeline.network_options)
    apply_seeded_weights(model, seed)
    return runtime.LoadedModel(spec, precision=precision, model=model)


def _dense(loaded: runtime.LoadedModel, pixels: np.ndarray):
    prepared = loaded.pipeline.preprocess(pixels)
    return loaded.pipeline.postprocess(loaded(prepared.batch), prepared)


@pytest.fixture(scope="module")
def photos():
    return [images.load(photo.image) for photo in samples.photos()]


@pytest.fixture(scope="module")
def exact_results(small_spec, photos):
    exact = _loaded(small_spec, "exact")
    return [_dense(exact, pixels) for pixels in photos]


@pytest.mark.slow
def test_fast_network_computes_in_bfloat16(small_spec):
    fast = _loaded(small_spec, "fast")
    assert fast.precision == "fast"
    assert fast.model.get_layer("conv1_1_3x3_s2").compute_dtype == "bfloat16"
    assert fast.raw(np.zeros((1, 185, 185, 3), np.float32)).dtype == np.float32


@pytest.mark.slow
@pytest.mark.xfail(
    condition=not settings.FAST_BY_DEFAULT,
    strict=True,
    reason="Keras's mixed_bfloat16 PSPNet does not yet pass the guard (87.9 % equal labels measured); fast is opt-in",
)
def test_fast_agrees_with_exact_on_the_shipped_photos(small_spec, photos, exact_results):
    fast = _loaded(small_spec, "fast")
    for pixels, exact in zip(photos, exact_results):
        dense = _dense(fast, pixels)
        agreement = float((dense.labels == exact.labels).mean())
        top_difference = float(np.abs(dense.scores - exact.scores).mean())
        assert agreement >= 0.995, f"{agreement:.4%} of the labels agree"
        assert top_difference <= 0.01
        assert len(np.unique(exact.labels)) > 1  # the seeded network does not paint one class everywhere


@pytest.mark.slow
def test_the_guard_can_fail(small_spec, photos, exact_results):
    """Another network (other weights) is far outside the guard: it measures something."""
    other = _loaded(small_spec, "exact", seed=4)
    dense = _dense(other, photos[0])
    assert float((dense.labels == exact_results[0].labels).mean()) < 0.995
