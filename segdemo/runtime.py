"""Loading models lazily, once, and running them fast.

Each model is built from code (never deserialized from a file), its weights are loaded, and
its forward pass is wrapped in a `tf.function` with a fixed input signature, so the first
call traces once and later calls never retrace. Loaded models are kept in a bounded
least-recently-used cache (SEGDEMO_MAX_MODELS, default 6).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict

import numpy as np

from segdemo import registry, weights
from segdemo.registry import ModelSpec

DEFAULT_MAX_MODELS = 6


class LoadedModel:
    """A built model with its weights and traced functions for its forward pass.

    `raw(batch)` runs the network up to the spec's `raw_output_layer` (the whole network when
    that is None): for a PSPNet the class scores at 1/8 of the input (`conv6`), which are small
    enough to cache; `tail(raw)` runs the rest of the same network (the resize to the input and
    the softmax). Calling the object runs both: the network's full output.
    """

    def __init__(self, spec: ModelSpec, pipeline: str | None = None) -> None:
        import tensorflow as tf

        from segdemo import architectures

        self.spec = spec
        self.pipeline = spec.pipeline(pipeline)
        self.precision = "exact"
        # Tells this load apart from any earlier one of the same model (other weights, say),
        # so that outputs cached for an earlier load are never served for this one.
        self.serial = next(_serials)
        source = weights.resolve(spec)
        self.model = architectures.build(spec.architecture, **dict(spec.arch_kwargs), **dict(self.pipeline.network_options))
        load_weights(self.model, source)
        height, width = spec.input_size or (None, None)
        signature = tf.TensorSpec(shape=(1, height, width, spec.channels), dtype=tf.float32)
        self._intermediate_models: dict[tuple[str, ...], object] = {}
        if spec.raw_output_layer is None:
            self._raw = tf.function(lambda batch: self.model(batch, training=False), input_signature=[signature])
            self._tail = None
        else:
            head = self.model.get_layer(spec.raw_output_layer)
            truncated = _submodel(self.model, [head.output])
            tail_layers = _layers_after(self.model, spec.raw_output_layer)
            self._raw = tf.function(lambda batch: truncated(batch, training=False), input_signature=[signature])
            raw_signature = tf.TensorSpec(shape=(1, *head.output.shape[1:]), dtype=tf.float32)

            def tail(raw):
                for layer in tail_layers:
                    raw = layer(raw, training=False)
                return raw

            self._tail = tf.function(tail, input_signature=[raw_signature])

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The network's raw output for one (1, H, W, C) float32 batch (what the output cache keeps)."""
        return self._raw(batch.astype(np.float32, copy=False)).numpy()

    def tail(self, raw: np.ndarray) -> np.ndarray:
        """The rest of the network after the raw output (identity when there is none)."""
        if self._tail is None:
            return raw
        return self._tail(raw.astype(np.float32, copy=False)).numpy()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Runs one image, shaped (1, H, W, C) float32, and returns the network's output."""
        return self.tail(self.raw(batch))

    def intermediate(self, batch: np.ndarray, layer_names: list[str] | tuple[str, ...]) -> list[np.ndarray]:
        """The outputs of the named layers of this same network for one batch (feature maps).

        The sub-network that ends at those layers is built once per set of names and shares
        this model's weights.
        """
        names = tuple(layer_names)
        if names not in self._intermediate_models:
            unknown = [name for name in names if name not in {layer.name for layer in self.model.layers}]
            if unknown:
                raise ValueError(f"{self.spec.key} has no layer named {', '.join(unknown)}.")
            self._intermediate_models[names] = _submodel(self.model, [self.model.get_layer(name).output for name in names])
        outputs = self._intermediate_models[names](batch.astype(np.float32, copy=False), training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [np.asarray(output) for output in outputs]


def _submodel(model, outputs):
    import keras

    return keras.Model(model.inputs, outputs)


def _layers_after(model, layer_name: str) -> list:
    """The chain of layers that follows `layer_name` up to the model's output (a simple chain)."""
    chain = []
    current = model.get_layer(layer_name)
    by_input = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                by_input.setdefault(id(tensor._keras_history.operation), []).append(layer)
    while True:
        followers = by_input.get(id(current), [])
        if not followers:
            return chain
        if len(followers) != 1:
            raise ValueError(f"{model.name}: the layers after {layer_name} are not a simple chain")
        current = followers[0]
        chain.append(current)


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
_serials = itertools.count(1)
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
    # Pipelines that share one network (the same network options) share one loaded model.
    chosen = spec.pipeline(pipeline)
    pipeline = chosen.name if chosen.network_options else None
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
            loaded = get(key)
        except ValueError:
            continue
        height, width = spec.input_size or (32, 32)
        loaded(np.zeros((1, height, width, spec.channels), np.float32))
        ready.append(key)
    return ready
