"""The registry is consistent and drives builds and weights (parametrised over it, timm-style)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from segdemo import architectures, registry, settings, weights

FIXED_KEYS = [
    "fcn",
    "unet",
    "fcn_aug",
    "unet_aug",
    "membrane_unet",
    "membrane_noskip",
    "pspnet_voc",
    "pspnet_ade20k",
    "pspnet_cityscapes",
]


HOMEWORK_KEYS = ["fcn_skip", "unet_strided"]


def test_keys_are_the_published_ones():
    """Outside scripts use these keys: every one of them is still there."""
    assert set(FIXED_KEYS + HOMEWORK_KEYS) <= set(registry.REGISTRY)


def test_every_model_is_accounted_for_by_its_weights():
    """No registry entry without weights and no weights without an entry: the trained models
    are exactly the `.weights.h5` files of the repository's weights/, and the pretrained ones
    exactly the manifest's published files."""
    trained = {spec.weights_file for spec in registry.REGISTRY.values() if spec.published_weights is None}
    shipped = {path.name for path in settings.REPOSITORY_WEIGHTS.glob("*.weights.h5")}
    assert trained == shipped
    published = {spec.published_weights for spec in registry.REGISTRY.values() if spec.published_weights}
    assert published == set(weights.manifest())
    assert len(trained) + len(published) == len(registry.REGISTRY)


@pytest.mark.parametrize("key", list(registry.REGISTRY))
def test_spec_is_frozen_and_consistent(key):
    spec = registry.get(key)
    assert spec.key == key
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "changed"
    with pytest.raises(TypeError):
        spec.arch_kwargs["base_filters"] = 1
    assert len(spec.classes) == len(spec.palette)
    assert all(0 <= channel <= 255 for colour in spec.palette for channel in colour)
    assert 0.0 <= spec.default_threshold <= 1.0


@pytest.mark.parametrize("key", [k for k, s in registry.REGISTRY.items() if s.family in ("eliret", "membrane")])
def test_trained_model_builds_and_its_committed_weights_load(key):
    spec = registry.get(key)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    height, width = spec.input_size or (32, 32)
    assert model(np.zeros((1, height, width, spec.channels), np.float32), training=False).shape == (1, height, width, 1)
    path = weights.local_path(spec)
    if not path.exists():
        pytest.fail(f"{key}: no committed weights at {path}")
    model.load_weights(path)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known models: fcn"):
        registry.get("segformer")


def test_family_filter():
    families = {spec.family for spec in registry.REGISTRY.values()}
    assert families == {"eliret", "membrane", "pspnet"}
    for family in families:
        assert registry.keys(family) == [key for key, spec in registry.REGISTRY.items() if spec.family == family]
    assert sorted(key for family in families for key in registry.keys(family)) == sorted(registry.REGISTRY)
    assert registry.keys() == list(registry.REGISTRY)
    assert registry.keys("eliret")[:2] == ["fcn", "unet"]  # the lecture's order: the UI lists them so
