"""PSPNet behind predict(): published-layout weights (written here with random values) load,
are cached as Keras 3 copies keyed by checksum, and photos come back labelled at full size."""

from __future__ import annotations

import numpy as np
import pytest

import segdemo
from segdemo import registry, render, runtime, weights

pytestmark = pytest.mark.slow  # a full-size PSPNet-50 is written, converted and run

KEY = "pspnet_ade20k"  # PSPNet-50: the cheapest of the three to build and run


@pytest.fixture(autouse=True)
def isolated_cache():
    """Overrides the suite's per-test cache: here one cache serves the module, so the
    published file is converted once, not once per test."""


@pytest.fixture(scope="module")
def pspnet_weights(tmp_path_factory, random_published):
    folder = random_published(KEY, 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGDEMO_WEIGHTS_DIR", str(folder))
        patch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        runtime.clear()
        yield folder
    runtime.clear()


@pytest.fixture(scope="module")
def results(pspnet_weights, photo):
    """One prediction per pipeline, shared by the tests that only read them."""
    return {pipeline: segdemo.predict(photo, KEY, 0.0, pipeline=pipeline) for pipeline in ("original", "keras_segmentation")}


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    image = np.zeros((300, 451, 3), np.uint8)
    image[:150] = (120, 170, 230)  # a sky-like top half
    image[150:] = (90, 130, 60)
    return np.clip(image + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("pipeline", ["original", "keras_segmentation"])
def test_photo_is_labelled_at_its_resolution(results, photo, pipeline):
    result = results[pipeline]
    spec = registry.get(KEY)
    assert result.labels.shape == photo.shape[:2] and result.scores.shape == photo.shape[:2]
    assert result.labels.min() >= 0 and result.labels.max() < len(spec.classes)
    assert 0.0 < result.scores.min() and result.scores.max() <= 1.0
    assert result.overlay.shape == photo.shape
    assert abs(sum(result.class_fractions.values()) - 1.0) < 1e-9
    assert set(result.class_fractions) <= set(spec.classes)
    legend = render.legend(result.class_fractions, result.classes, result.palette)
    assert legend.ndim == 3 and legend.shape[2] == 3


def test_threshold_leaves_uncertain_pixels_unlabelled(results, photo):
    everything = results["original"]
    strict = segdemo.predict(photo, KEY, 0.99)
    assert (everything.labels >= 0).all()
    assert (strict.labels == render.UNLABELLED).sum() > 0
    assert np.array_equal(strict.labels == render.UNLABELLED, strict.scores < 0.99)
    assert "unlabelled" in strict.class_fractions


def test_the_two_pipelines_differ(results):
    assert not np.allclose(results["original"].scores, results["keras_segmentation"].scores)


def test_converted_copy_is_cached_and_keyed_by_checksum(results, photo, random_published, monkeypatch):
    import os
    from pathlib import Path

    cache = Path(os.environ["SEGDEMO_CACHE_DIR"])
    first = results["original"].scores
    converted = sorted((cache / "weights" / "converted").glob("*.weights.h5"))
    assert len(converted) == 1
    # A reload comes from the Keras 3 copy and gives the same answer.
    runtime.clear()
    assert np.allclose(segdemo.predict(photo, KEY).scores, first, atol=1e-5)
    # Another file under the same name must not be shadowed by the old conversion.
    other = random_published(KEY, 1)
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(other))
    runtime.clear()
    assert not np.allclose(segdemo.predict(photo, KEY).scores, first, atol=1e-3)
    assert len(list((cache / "weights" / "converted").glob("*.weights.h5"))) == 2


def test_missing_published_weights_say_which_file_and_others_keep_working(monkeypatch, photo):
    from segdemo import settings

    folder = settings.PROJECT_ROOT / "weights"  # holds the trained models, not the published files
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(folder))
    monkeypatch.setattr(weights, "_failures", {})
    entry = weights.manifest()["pspnet101_voc2012"]
    # Point the published URLs at a closed local port: offline, as on this machine.
    monkeypatch.setattr(
        weights,
        "manifest",
        lambda path=None: {"pspnet101_voc2012": dict(entry, urls=["http://127.0.0.1:9/pspnet101_voc2012.h5"])},
    )
    runtime.clear()
    with pytest.raises(ValueError, match=r"pspnet101_voc2012\.h5.*" + str(folder)):
        segdemo.predict(photo, "pspnet_voc")
    assert segdemo.predict(photo, "fcn").labels.shape == photo.shape[:2]
    runtime.clear()


def test_unknown_pipeline(photo):
    with pytest.raises(ValueError, match="Unknown pipeline"):
        segdemo.predict(photo, KEY, pipeline="caffe")
