"""Loading models lazily, once, and running them fast.

Each model is built from code (never deserialized from a file), its weights are loaded, and
its forward pass is wrapped in a `tf.function` with a fixed input signature, so the first
call traces once and later calls never retrace. Loaded models are kept in a bounded
least-recently-used cache (SEGDEMO_MAX_MODELS, default 6).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from segdemo import registry, weights
from segdemo.registry import ModelSpec

DEFAULT_MAX_MODELS = 6


class LoadedModel:
    """A built model with its weights and a traced forward pass."""

    def __init__(self, spec: ModelSpec, pipeline: str | None = None) -> None:
        import tensorflow as tf

        from segdemo import architectures

        self.spec = spec
        self.pipeline = pipeline
        source = weights.resolve(spec)
        arch_kwargs = dict(spec.arch_kwargs)
        if pipeline is not None:
            arch_kwargs["pipeline"] = pipeline
        self.model = architectures.build(spec.architecture, **arch_kwargs)
        load_weights(self.model, source)
        height, width = spec.input_size or (None, None)
        signature = tf.TensorSpec(shape=(1, height, width, spec.channels), dtype=tf.float32)
        self._forward = tf.function(lambda batch: self.model(batch, training=False), input_signature=[signature])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Runs one image, shaped (1, H, W, C) float32, and returns the network's output."""
        return self._forward(batch.astype(np.float32, copy=False)).numpy()


def load_weights(model, source: weights.WeightsFile) -> None:
    """Loads a Keras 3 weights file, or a Keras-2 file through the converted-copy cache."""
    if source.layout == weights.KERAS3:
        model.load_weights(source.path)
        return
    from segdemo import legacy_h5

    converted = weights.converted_cache_path(source)
    if converted.is_file():
        model.load_weights(converted)
        return
    legacy_h5.load_legacy_weights(model, source.path)
    converted.parent.mkdir(parents=True, exist_ok=True)
    partial = converted.with_name(converted.stem + ".part.weights.h5")
    model.save_weights(partial)
    os.replace(partial, converted)


_models: OrderedDict[str, LoadedModel] = OrderedDict()
_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}
_import_lock = threading.Lock()
_tensorflow_imported = False


def import_tensorflow() -> None:
    """Imports TensorFlow, Keras and the architectures once, in one thread at a time.

    TensorFlow's own imports are circular; two threads importing it at once (the start-up
    warm-up and a first request) can see a half-initialised module and fail.
    """
    global _tensorflow_imported
    if _tensorflow_imported:  # every request passes here: no lock once it is done
        return
    with _import_lock:
        import tensorflow  # noqa: F401

        import segdemo.architectures  # noqa: F401

        _tensorflow_imported = True


def max_models() -> int:
    """How many models the LRU cache keeps (SEGDEMO_MAX_MODELS, validated by segdemo.settings)."""
    from segdemo import settings

    return settings.get().max_models


def get(key: str, pipeline: str | None = None) -> LoadedModel:
    """The loaded model for `key`, loading it on first use (one thread loads, others wait).

    `pipeline` selects a variant of the network for models that have several (PSPNet's
    "original" and "keras_segmentation" differ in strides and resize layers); it is ignored
    for the others.
    """
    spec = registry.get(key)
    import_tensorflow()
    pipeline = pipeline if spec.pipelines else None
    cache_key = key if pipeline is None else f"{key}:{pipeline}"
    with _lock:
        if cache_key in _models:
            _models.move_to_end(cache_key)
            return _models[cache_key]
        key_lock = _key_locks.setdefault(cache_key, threading.Lock())
    with key_lock:
        with _lock:
            if cache_key in _models:  # another thread loaded it while this one waited
                _models.move_to_end(cache_key)
                return _models[cache_key]
        loaded = LoadedModel(spec, pipeline)
        with _lock:
            _models[cache_key] = loaded
            while len(_models) > max_models():
                _models.popitem(last=False)  # least recently used first out
        return loaded


def loaded_keys() -> list[str]:
    """Keys of the models in memory, least recently used first."""
    with _lock:
        return list(_models)


def clear() -> None:
    """Forgets every loaded model (tests, memory pressure)."""
    with _lock:
        _models.clear()


def warm_up(keys: list[str]) -> list[str]:
    """Loads and traces the given models (e.g. in a background thread at start-up), so the
    first request does not pay for importing TensorFlow, loading and tracing. Models whose
    weights are missing are skipped; returns the keys that are ready."""
    ready = []
    for key in keys:
        spec = registry.get(key)
        try:
            loaded = get(key, spec.pipelines[0] if spec.pipelines else None)
        except ValueError:
            continue
        height, width = spec.input_size or (32, 32)
        loaded(np.zeros((1, height, width, spec.channels), np.float32))
        ready.append(key)
    return ready
