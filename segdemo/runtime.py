"""Loading models lazily, once, and running them fast.

Each model is built from code (never deserialized from a file), its weights are loaded, and
its forward pass is wrapped in a `tf.function` with a fixed input signature, so the first
call traces once and later calls never retrace. Loaded models are kept in a bounded
least-recently-used cache (SEGDEMO_MAX_MODELS, default 6).

Precision (`precision()`, SEGDEMO_PRECISION) and engine (SEGDEMO_ENGINE): "exact" runs every
network in float32; "fast" lets a PSPNet's network run in int8 or bfloat16 where that keeps its
answers. With OpenVINO installed (and SEGDEMO_ENGINE not "tensorflow"), a PSPNet is built in
float32, serves requests on TensorFlow at once, and one background thread has `segdemo.engines`
convert, quantize and measure its OpenVINO modes in a child process (`optimise`), then switches it
to the first that passes its guard (`LoadedModel.mode` says which runs). Without OpenVINO, "fast" builds the PSPNets under Keras's
"mixed_bfloat16" policy (TensorFlow's oneDNN kernels in bfloat16) on CPUs with native bfloat16.
The raw output, the resize and the softmax after it stay float32; the small models always run
exact (they take milliseconds).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import queue
import threading
from collections import OrderedDict

import numpy as np

from segdemo import cpu, engines, registry, weights
from segdemo import tail as numpy_tail
from segdemo.registry import ModelSpec

LOG = logging.getLogger("segdemo.runtime")

DEFAULT_MAX_MODELS = 6
FAST_FAMILIES = ("pspnet",)
"""Model families that run in bfloat16 at precision "fast" (the others cost milliseconds)."""
_FAST_POLICY = "mixed_bfloat16"


class LoadedModel:
    """A built model with its weights and traced functions for its forward pass.

    `raw(batch)` runs the network up to the spec's `raw_output_layer` (the whole network when
    that is None): for a PSPNet the class scores at 1/8 of the input (`conv6`), which are small
    enough to cache; `tail(raw)` runs the rest of the same network (the resize to the input and
    the softmax). Calling the object runs both: the network's full output.
    """

    def __init__(self, spec: ModelSpec, pipeline: str | None = None, precision: str | None = None, model=None) -> None:
        """Builds and loads the model (or takes `model`, built under `dtype_policy(precision)`).

        Args:
            spec: the registry spec.
            pipeline: the pipeline whose network variant to build (None: the default).
            precision: "exact" or "fast"; None: `precision()` (the settings). Only the families in
                FAST_FAMILIES run fast; the others are exact whatever is asked. Asking for "fast"
                here on a CPU without native bfloat16 emulates it (slowly): the agreement tests do.
            model: an already built Keras model with its weights (tests): nothing is loaded.
        """
        self.spec = spec
        self.pipeline = spec.pipeline(pipeline)
        wanted = precision_setting() if precision is None else precision
        if wanted not in ("exact", "fast"):
            raise ValueError(f"precision must be 'exact' or 'fast', not {wanted!r}.")
        self.precision = wanted if spec.family in FAST_FAMILIES else "exact"
        if (device() or "").startswith("GPU"):
            # "fast" is int8 or bfloat16 on a CPU, measured there; a GPU runs float32 (its own
            # reduced precision, mixed_float16, is not measured yet).
            self.precision = "exact"
        # Without OpenVINO "fast" is TensorFlow's bfloat16 network; with it the network is built in
        # float32 (the reference the background measurement compares with) and OpenVINO takes over.
        self.openvino_modes = _openvino_modes(spec, self.precision) if model is None else []
        self._built_as = "fast" if self.precision == "fast" and not self.openvino_modes else "exact"
        self._weights_source = None
        # Tells this load apart from any earlier one of the same model (other weights, say),
        # so that outputs cached for an earlier load are never served for this one.
        self.serial = next(_serials)
        self._model = model
        self._model_lock = threading.Lock()
        self._raw = None
        self._tail = None
        self._intermediate_models: dict[tuple[str, ...], object] = {}
        self._intermediate_lock = threading.Lock()
        if model is None:
            self._weights_source = weights.resolve(spec)
        # A network measured before, whose verdict chose OpenVINO, starts there at once: its Keras
        # network (the weights in float32, TensorFlow's kernels and their scratch memory, about 0.7 GB
        # for PSPNet-101) is built only when something needs it (the look-inside views, a fallback).
        served = _cached_openvino(self) if self.openvino_modes else None
        if served is not None:
            mode, run, tail_configs, raw_shape = served
            self._tail = _tail_from_configs(tail_configs, raw_shape)
            self._current = (mode, run)
            return
        model = self.model  # builds and loads it
        computes = model.get_layer(spec.raw_output_layer or model.layers[-1].name).compute_dtype
        # (the mode, its raw function): replaced as one tuple when a background measurement picks another.
        self._current = (
            engines.Mode(engines.TENSORFLOW, "bfloat16" if computes == "bfloat16" else "float32"),
            self._tensorflow_raw,
        )

    @property
    def model(self):
        """The Keras network with its weights, built on first use (see `__init__`)."""
        with self._model_lock:
            if self._model is None:
                from segdemo import architectures

                with dtype_policy(self._built_as):
                    built = architectures.build(
                        self.spec.architecture, **dict(self.spec.arch_kwargs), **dict(self.pipeline.network_options)
                    )
                load_weights(built, self._weights_source)
                self._model = built
            if self._raw is None:
                self._raw, tail = _network_functions(self._model, self.spec)
                self._tail = self._tail or tail
            return self._model

    @functools.cached_property
    def engines_folder(self):
        """Where this network's converted models, verdict and tail are kept (`segdemo.engines.cache_folder`),
        keyed by its weights' digest (hashed once per load); None when it was not loaded from a file."""
        from segdemo import settings

        source = self._weights_source
        if source is None:
            return None
        digest = source.sha256 or weights.file_digest(source.path)
        return engines.cache_folder(settings.cache_dir(), self.spec.key, self.pipeline.name, digest)

    def tail_layers(self) -> list:
        """The weightless layers after the raw output, in float32 (what `tail` runs)."""
        if self.spec.raw_output_layer is None:
            return []
        return [_in_float32(layer) for layer in _layers_after(self.model, self.spec.raw_output_layer)]

    def _tensorflow_raw(self, batch: np.ndarray) -> np.ndarray:
        self.model  # noqa: B018 - built on first use, with its traced function
        return self._raw(batch.astype(np.float32, copy=False)).numpy()

    @property
    def mode(self) -> engines.Mode:
        """The engine and number format that runs this network now."""
        return self._current[0]

    def runner(self):
        """(the mode, its raw function), taken together: a switch of engine cannot split them. The
        function counts itself in `networks_running()` while it runs."""
        mode, run = self._current

        def counted(batch: np.ndarray) -> np.ndarray:
            with _network_running():
                return run(batch)

        return mode, counted

    def use(self, mode: engines.Mode, run) -> None:
        """Runs the network through `run` (batch → raw output) from now on, as `mode`."""
        self._current = (mode, run)

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The network's raw output for one (1, H, W, C) float32 batch (what the output cache keeps)."""
        return self.runner()[1](batch)

    def tail(self, raw: np.ndarray) -> np.ndarray:
        """The rest of the network after the raw output (identity when there is none)."""
        if self._tail is None:
            self.model  # noqa: B018 - sets the tail when the network has one
        if self._tail is None:
            return raw
        with _network_running():
            output = self._tail(raw.astype(np.float32, copy=False))
        return output if isinstance(output, np.ndarray) else output.numpy()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Runs one image, shaped (1, H, W, C) float32, and returns the network's output."""
        return self.tail(self.raw(batch))

    def intermediate(self, batch: np.ndarray, layer_names: list[str] | tuple[str, ...]) -> list[np.ndarray]:
        """The outputs of the named layers of this same network for one batch (feature maps).

        The sub-network that ends at those layers is built once per set of names and shares
        this model's weights.
        """
        names = tuple(layer_names)
        with self._intermediate_lock:  # concurrent requests (SEGDEMO_WORKERS > 1) build it once
            if names not in self._intermediate_models:
                unknown = [name for name in names if name not in {layer.name for layer in self.model.layers}]
                if unknown:
                    raise ValueError(f"{self.spec.key} has no layer named {', '.join(unknown)}.")
                self._intermediate_models[names] = _submodel(self.model, [self.model.get_layer(name).output for name in names])
            submodel = self._intermediate_models[names]
        with _network_running():
            outputs = submodel(batch.astype(np.float32, copy=False), training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [np.asarray(output) for output in outputs]


def _network_functions(model, spec: ModelSpec):
    """(raw, tail): traced functions of `model` up to the spec's raw output and after it (tail None
    when the raw output is the network's output)."""
    import tensorflow as tf

    height, width = spec.input_size or (None, None)
    signature = tf.TensorSpec(shape=(1, height, width, spec.channels), dtype=tf.float32)
    if spec.raw_output_layer is None:
        return tf.function(lambda batch: tf.cast(model(batch, training=False), tf.float32), input_signature=[signature]), None
    head = model.get_layer(spec.raw_output_layer)
    truncated = _submodel(model, [head.output])
    # The resize and softmax after the raw output have no weights: in float32 whatever the
    # precision, so "fast" differs from "exact" only by the network's own rounding.
    tail_layers = [_in_float32(layer) for layer in _layers_after(model, spec.raw_output_layer)]
    raw = tf.function(lambda batch: tf.cast(truncated(batch, training=False), tf.float32), input_signature=[signature])
    return raw, _tail_function(tail_layers, (1, *head.output.shape[1:]))


def _tail_function(tail_layers: list, raw_shape: tuple[int, ...]):
    """The layers after the raw output as one function: in NumPy where `segdemo.tail` runs them
    (a PSPNet's resize and softmax: one full-size map instead of two), else traced in TensorFlow."""
    import keras

    in_numpy = numpy_tail.from_configs([keras.saving.serialize_keras_object(layer) for layer in tail_layers])
    return in_numpy if in_numpy is not None else _traced_tail(tail_layers, raw_shape)


def _traced_tail(tail_layers: list, raw_shape: tuple[int, ...]):
    """The layers after the raw output traced in TensorFlow, for one raw output shape."""
    import tensorflow as tf

    def tail(raw):
        for layer in tail_layers:
            raw = layer(raw, training=False)
        return raw

    return tf.function(tail, input_signature=[tf.TensorSpec(shape=raw_shape, dtype=tf.float32)])


TAIL_FILE = "tail.json"
"""In an engines cache folder: the layers after the raw output (serialized, weightless) and the raw
output's shape, so that a network served by OpenVINO needs no Keras network to finish its output."""


def _write_tail(folder, loaded: LoadedModel) -> None:
    import json

    import keras

    layers = [keras.saving.serialize_keras_object(layer) for layer in loaded.tail_layers()]
    raw_shape = [1, *loaded.model.get_layer(loaded.spec.raw_output_layer).output.shape[1:]]
    partial = folder / f"{TAIL_FILE}.{os.getpid()}.part"
    partial.write_text(json.dumps({"layers": layers, "raw_shape": raw_shape}))
    os.replace(partial, folder / TAIL_FILE)


def _read_tail(folder) -> tuple[list[dict], tuple[int, ...]] | None:
    """(the serialized layers, the raw output's shape) from `folder`'s tail file; None when it is
    missing or unreadable."""
    import json

    try:
        stored = json.loads((folder / TAIL_FILE).read_text())
        configs = list(stored["layers"])
        if not all(isinstance(config, dict) for config in configs):
            return None
        return configs, tuple(int(size) for size in stored["raw_shape"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _tail_from_configs(configs: list[dict], raw_shape: tuple[int, ...]):
    """The tail function of serialized layers: NumPy where `segdemo.tail` runs them, without
    building any Keras layer; else the layers deserialized and traced in TensorFlow."""
    in_numpy = numpy_tail.from_configs(configs)
    if in_numpy is not None:
        return in_numpy
    import keras

    return _traced_tail([keras.saving.deserialize_keras_object(config) for config in configs], raw_shape)


def _cached_openvino(loaded: LoadedModel):
    """(mode, run, serialized tail layers, raw shape) when an earlier measurement of these very weights chose
    an OpenVINO mode and its model compiles; otherwise None (the Keras network is built)."""
    from segdemo import settings

    folder = loaded.engines_folder
    if loaded.spec.raw_output_layer is None or folder is None:
        return None
    known = engines.read_verdict(folder, settings.machine())
    tail = _read_tail(folder)
    if known is None or tail is None or known.get("precision") != loaded.precision:
        return None
    chosen = next((mode for mode in loaded.openvino_modes if mode.slug == known.get("chosen")), None)
    path = None if chosen is None else engines.stored_model(folder, chosen.numbers)
    if path is None or not path.is_file():
        return None
    try:
        import openvino

        run = engines.compile_openvino(
            openvino.Core().read_model(path), chosen.numbers, cpu.usable_cores(), path.with_suffix(".bin")
        )
    except Exception as error:  # noqa: BLE001 - a broken cache: the Keras network is built, optimise() measures again
        LOG.warning("%s: the cached %s model failed (%s); building the Keras network", loaded.spec.key, chosen.label, error)
        return None
    LOG.info("%s: %s from the engines' cache (%s), no Keras network built", loaded.spec.key, chosen.label, folder.name)
    return chosen, run, *tail


_running_lock = threading.Lock()
_running = 0
_running_peak = 0


@contextlib.contextmanager
def _network_running():
    """Counts the networks running at this moment in this process, and the most that ever ran at once."""
    global _running, _running_peak
    with _running_lock:
        _running += 1
        _running_peak = max(_running_peak, _running)
    try:
        yield
    finally:
        with _running_lock:
            _running -= 1


def networks_running() -> dict[str, int]:
    """{"now": networks running at this moment, "peak": the most that ran at once since the process
    started}; with SEGDEMO_WORKERS > 1 the peak shows whether requests really ran together."""
    with _running_lock:
        return {"now": _running, "peak": _running_peak}


def _openvino_modes(spec: ModelSpec, precision: str) -> list[engines.Mode]:
    """The OpenVINO modes to measure for `spec` in the background (none: TensorFlow only)."""
    from segdemo import settings

    if spec.family not in FAST_FAMILIES:
        return []
    chosen = settings.get()
    if chosen.engine == engines.TENSORFLOW:
        return []
    if chosen.engine == "auto" and (device() or "").startswith("GPU"):
        return []  # TensorFlow on the GPU: OpenVINO here would run on the CPU
    modes = engines.candidates(precision, chosen.engine, settings.native_bf16())
    return [mode for mode in modes if mode.engine == engines.OPENVINO]


def optimise(loaded: LoadedModel, log=None, isolated: bool = True) -> engines.Mode:
    """Converts, quantizes and measures `loaded`'s OpenVINO modes, then runs it in the first that
    passes its guard (`segdemo.engines.choose`); blocking. Converted models and the verdict are
    kept in the cache folder, so the next start only compiles the chosen one.

    Args:
        loaded: a PSPNet loaded from its weights file with OpenVINO modes to try.
        log: progress lines (default: this module's logger).
        isolated: measure in a child process (`python -m segdemo engines`), which loads the network
            again: the conversion's and the calibration's memory never weighs on the app, and an
            engine that crashes takes only the child down (TensorFlow keeps serving). Then the
            verdict is read back and only the chosen model is compiled here.

    Returns:
        The mode that runs from now on.
    """
    import keras

    from segdemo import images, samples, settings

    log = log or LOG.info
    modes = loaded.openvino_modes
    folder = loaded.engines_folder
    if not modes or folder is None:
        return loaded.mode
    spec = loaded.spec
    folder.mkdir(parents=True, exist_ok=True)

    @functools.cache
    def shipped_photos() -> list[np.ndarray]:
        # Read only by a measurement or a quantization, never when a cached verdict is reused.
        return [images.load(photo.image) for photo in samples.photos()]

    def openvino_model(numbers: str):
        import openvino

        path = engines.stored_model(folder, numbers)
        if path.is_file():
            return openvino.Core().read_model(path)
        if numbers == "bfloat16":
            openvino_model("float32")  # converted first (and logged) when not cached yet
            count = engines.save_with_bfloat16_weights(engines.stored_model(folder, "float32"), path)
            log(f"{spec.key}: {count} convolutions' weights stored in bfloat16")
            return openvino.Core().read_model(path)
        if numbers == "float32":
            log(f"{spec.key}: converting the network to OpenVINO")
            truncated = keras.Model(loaded.model.inputs, loaded.model.get_layer(spec.raw_output_layer).output)
            converted = engines.convert_to_openvino(truncated)
        else:
            floating = openvino_model("float32")  # converted first (and logged) when not cached yet
            inputs = engines.calibration_inputs(shipped_photos(), lambda image: loaded.pipeline.preprocess(image).batch)
            log(f"{spec.key}: quantizing to int8 on {len(inputs)} calibration images (the shipped photos, mirrored and cropped)")
            converted = engines.quantize_openvino(floating, inputs, engines.INT8_KEPT_IN_FLOAT)
        openvino.save_model(converted, path, compress_to_fp16=False)
        return converted

    def build(mode: engines.Mode):
        # As many threads as TensorFlow's intra-op pool: the usable cores, not the host's count.
        # The weights file: a model read from it maps it (one converted or quantized here does not).
        stored = engines.stored_model(folder, mode.numbers).with_suffix(".bin")
        return engines.compile_openvino(openvino_model(mode.numbers), mode.numbers, cpu.usable_cores(), stored)

    machine = settings.machine()
    known = engines.read_verdict(folder, machine)
    if known is None and engines.read_verdict(folder) is not None:
        log(f"{spec.key}: the verdict kept was measured on another machine; measuring again on {machine}")
    if known is not None and known.get("precision") == loaded.precision:
        chosen = next((mode for mode in modes if mode.slug == known.get("chosen")), engines.REFERENCE)
        if chosen == loaded.mode:  # started from the engines' cache (`_cached_openvino`)
            return chosen
        if chosen != engines.REFERENCE:
            if not (folder / TAIL_FILE).is_file():
                _write_tail(folder, loaded)  # the next start needs no Keras network
            try:
                loaded.use(chosen, build(chosen))
            except Exception as error:  # a broken cache: measure again below
                log(f"{spec.key}: the cached {chosen.label} model failed ({error}); measuring again")
            else:
                log(f"{spec.key}: {chosen.label} (measured before, {folder.name})")
                return chosen
        else:
            log(f"{spec.key}: {chosen.label} (measured before)")
            return chosen
    if isolated:
        if _measure_in_child(loaded, log) and engines.read_verdict(folder, machine) is not None:
            return optimise(loaded, log, isolated=False)  # reads the child's verdict, compiles the chosen model
        log(f"{spec.key}: the measurement failed; TensorFlow float32 runs it")
        return loaded.mode
    log(f"{spec.key}: measuring {', '.join(mode.label for mode in modes)} against TensorFlow float32 on the shipped photos")
    photos = [loaded.pipeline.preprocess(image).batch for image in shipped_photos()]
    chosen, run, verdicts = engines.choose(
        modes, build, loaded._tensorflow_raw, loaded.tail, photos, log=lambda line: log(f"{spec.key}: {line}")
    )
    engines.write_verdict(folder, loaded.precision, chosen, verdicts, machine)
    if chosen.engine == engines.OPENVINO:
        _write_tail(folder, loaded)  # the next start needs no Keras network
    loaded.use(chosen, run)
    log(f"{spec.key}: runs in {chosen.label}")
    return chosen


ENGINES_COMMAND = ("-m", "segdemo", "engines")
"""How the child process runs the measurement (segdemo/__main__.py), after the interpreter."""


def _measure_in_child(loaded: LoadedModel, log) -> bool:
    """Runs `optimise` for `loaded`'s network in a child process, its progress lines passed on to
    `log`; True when it finished."""
    import subprocess
    import sys

    command = [sys.executable, *ENGINES_COMMAND, "--measure", loaded.spec.key]
    command += ["--pipeline", loaded.pipeline.name, "--precision", loaded.precision]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        for line in child.stdout:
            line = line.rstrip()
            if line.startswith(engines.PROGRESS_PREFIX):
                log(line[len(engines.PROGRESS_PREFIX) :])
            elif line:
                LOG.debug("%s", line)
        returncode = child.wait()
    if returncode != 0:
        log(f"{loaded.spec.key}: the engines' measurement stopped with exit status {returncode}")
    return returncode == 0


_optimise_queue: queue.Queue = queue.Queue()
_optimiser: threading.Thread | None = None
_optimiser_lock = threading.Lock()
_optimising: dict[int, str] = {}


def _optimise_forever() -> None:
    while True:
        loaded = _optimise_queue.get()
        _optimising[id(loaded)] = "measuring"
        try:
            optimise(loaded)
        except Exception as error:  # OpenVINO broke: TensorFlow keeps serving
            LOG.warning(
                "%s: OpenVINO could not be used (%s: %s); TensorFlow runs it", loaded.spec.key, type(error).__name__, error
            )
        finally:
            _optimising.pop(id(loaded), None)
            _optimise_queue.task_done()


def optimise_in_background(loaded: LoadedModel) -> None:
    """Queues `loaded` for `optimise` in the one background thread (requests never wait for it)."""
    global _optimiser
    if not loaded.openvino_modes:
        return
    with _optimiser_lock:
        if _optimiser is None or not _optimiser.is_alive():
            _optimiser = threading.Thread(target=_optimise_forever, name="segdemo-engines", daemon=True)
            _optimiser.start()
    _optimising[id(loaded)] = "waiting"
    _optimise_queue.put(loaded)


def precision_setting() -> str:
    """The precision PSPNets run at in this process: "exact" or "fast" (SEGDEMO_PRECISION, or the CPU)."""
    from segdemo import settings

    return settings.get().precision


def precision() -> str:
    """What the photo tab and /health show: "fast" (bfloat16 PSPNets) or "exact" (float32)."""
    return precision_setting()


_policy_lock = threading.Lock()


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Builds Keras layers inside the block under the precision's dtype policy.

    Keras reads its global policy when a layer is created, so the switch is held under a lock
    for the block and restored after it; every build in this module goes through here.
    """
    import keras

    with _policy_lock:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(_FAST_POLICY if precision == "fast" else "float32")
        try:
            yield
        finally:
            keras.config.set_dtype_policy(previous)


def _in_float32(layer):
    """A weightless layer as it is, or re-created in float32 when it computes in another dtype."""
    if layer.weights or layer.compute_dtype == "float32":
        return layer
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})


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
    # One partial file per thread: two variants of one network (PSPNet's pipelines) may convert at once.
    partial = converted.with_name(f"{converted.stem}.{os.getpid()}-{threading.get_ident()}.part.weights.h5")
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
        if _tensorflow_imported:
            return
        import tensorflow

        _size_thread_pools(tensorflow)

        import segdemo.architectures  # noqa: F401

        _tensorflow_imported = True


_threads: dict[str, int] = {}


def _size_thread_pools(tf) -> None:
    """Sizes TensorFlow's thread pools from the cores this process may use (segdemo.cpu), once,
    before the first operation runs; where TensorFlow already ran one (a test imported it first),
    its pools stay as they are. `threads()` reports what holds."""
    from segdemo import cpu, settings

    intra, inter = cpu.thread_counts(cpu.usable_cores(), settings.get().workers)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TensorFlow's context is initialised: the pools exist already
        pass
    _threads.update(
        intra_op=tf.config.threading.get_intra_op_parallelism_threads(),
        inter_op=tf.config.threading.get_inter_op_parallelism_threads(),
    )


def threads() -> dict[str, int] | None:
    """TensorFlow's {"intra_op", "inter_op"} thread counts (0: TensorFlow's own choice), None until it is imported."""
    return dict(_threads) if _tensorflow_imported else None


def device() -> str | None:
    """Where the networks run: "GPU: <name>, ..." or "CPU"; None until TensorFlow is imported
    (asking would import it: /health must stay instant)."""
    if not _tensorflow_imported:
        return None
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    return "GPU: " + ", ".join(names)


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
    if spec.family in FAST_FAMILIES and precision_setting() == "fast":
        cache_key += "@fast"  # a change of setting (tests) never serves the other precision's model
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
        loaded = LoadedModel(spec, pipeline, precision_setting())
        with _lock:
            _models[cache_key] = loaded
            while len(_models) > max_models():
                _models.popitem(last=False)  # least recently used first out
        optimise_in_background(loaded)
        return loaded


def modes() -> dict[str, str]:
    """{loaded model key: what runs it ("OpenVINO int8", "TensorFlow float32"; "…, measuring" while the
    background measurement is under way)}, for /health."""
    with _lock:
        items = list(_models.items())
    result = {}
    for key, loaded in items:
        state = _optimising.get(id(loaded))
        result[key] = loaded.mode.label + (f", {state} OpenVINO" if state else "")
    return result


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
