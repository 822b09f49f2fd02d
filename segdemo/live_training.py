"""Train the lecture's FCN or U-Net live, one epoch at a time (the app's "Train" tab).

`train(request)` is a generator: it builds a fresh network (never the app's loaded one), trains it
on the eliret pairs with the lecture's recipe (train/eliret.py: Adam 1e-3, MSE, batch 20 for the
FCN and 10 for the U-Net) with or without the lecture's augmentation (shifts of ±70 % and
horizontal flips, `segdemo.augment`), and yields an `EpochUpdate` after every epoch: the training
and validation loss so far and the network's grey and binarized outputs on two fixed images, a
centred test image (076) and the large `maior2`, as keras-io's `DisplayCallback` does. The last
update carries the trained weights (`TrainedModel`), which the caller may keep for its session;
nothing is ever written to disk, least of all into a weights folder.

Classroom safety lives here too:
- one training at a time in the whole process (`TrainingBusyError` for a second one);
- a `threading.Event` stops a run at the end of the current batch (a Keras callback checks it);
- `yield_to()`, when given, is asked at the end of every batch; while it answers True (other
  requests wait for the CPU) the training sleeps, so inference keeps its latency;
- epochs are capped (`EPOCH_CAPS`) so a run takes about a minute on a 2-core CPU, and a run
  that still takes longer than `TIME_LIMIT_S` of training ends there.

Data: the eliret training and validation splits when a copy is on this machine
(SEGDEMO_DATA_DIR or the verified download in the cache; nothing is downloaded from here).
Without one, 100 centred pairs are generated the way the course's generator made eliret's
(`centred_pairs`, the constants of `segdemo.datasets.synthetic`), and the validation pairs are
the real 32×32 eliret pairs shipped in examples/.

TensorFlow is imported only when a training starts.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from segdemo import images, metrics, registry, render, samples
from segdemo.datasets import eliret
from segdemo.datasets.synthetic import CONTRAST, NOISE_SIGMA, OBJECT_SIDES

ARCHITECTURES = ("fcn", "unet")
INITS = ("random", "committed")
# The registry models whose recipe each choice follows (and whose committed weights "committed" starts from).
REGISTRY_KEYS = {("fcn", False): "fcn", ("fcn", True): "fcn_aug", ("unet", False): "unet", ("unet", True): "unet_aug"}
# The lecture's settings, as train/eliret.py's RECIPES (segdemo never imports train/).
BATCH_SIZES = {"fcn": 20, "unet": 10}
LEARNING_RATE = 1e-3
THRESHOLD = 0.5
# Most epochs one run may ask for. `python -m bench.training_priority` measured the process's CPU
# time: about 0.6 s per FCN epoch and 1.3 s per U-Net epoch, plus 4–9 s for the first (the
# training graph); on an idle 2-core CPU an epoch takes between half that and that. A run at the
# cap costs about a minute of CPU: 6 + 100 × 0.6 and 8 + 40 × 1.3 seconds.
EPOCH_CAPS = {"fcn": 100, "unet": 40}
TIME_LIMIT_S = 120.0  # of training (pauses for other requests not counted): a safety net on a slow server
PAUSE_POLL_S = 0.02
DISPLAY_EXAMPLES = (("076", "lecture_test"), ("maior2", "large"))
GENERATED_PAIRS = 100
SESSION_MODELS_KEPT = 4

RUNNING, FINISHED, STOPPED, TIME_LIMIT = "running", "finished", "stopped", "time_limit"


class TrainingBusyError(ValueError):
    """Another training is running in this process."""


@dataclass(frozen=True)
class TrainingRequest:
    """What to train.

    Attributes:
        model: "fcn" (lecture program 2) or "unet" (program 4, 16 base filters).
        augmentation: train on the lecture's shifted and flipped copies (`fcn_aug`/`unet_aug`'s
            recipe) instead of the plain pairs.
        epochs: 1 to `EPOCH_CAPS[model]`.
        seed: seeds the initial weights, the shuffling and the augmentation.
        init: "random" (a fresh initialisation) or "committed" (a copy of the committed
            weights of the matching registry model: fcn, fcn_aug, unet or unet_aug).
    """

    model: str
    augmentation: bool = False
    epochs: int = 10
    seed: int = 1
    init: str = "random"

    def __post_init__(self) -> None:
        if self.model not in ARCHITECTURES:
            raise ValueError(f"Unknown model {self.model!r} to train; choose one of {', '.join(ARCHITECTURES)}.")
        if self.init not in INITS:
            raise ValueError(f"Unknown initialisation {self.init!r}; choose one of {', '.join(INITS)}.")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, np.integer)):
            raise ValueError(f"The number of epochs must be a whole number, got {self.epochs!r}.")
        cap = EPOCH_CAPS[self.model]
        if not 1 <= self.epochs <= cap:
            raise ValueError(f"The number of epochs must be between 1 and {cap} for the {self.model.upper()}, got {self.epochs}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**31:
            raise ValueError(f"The seed must be a whole number from 0 to {2**31 - 1}, got {self.seed!r}.")

    @property
    def registry_key(self) -> str:
        """The registry model this run's recipe follows: fcn, fcn_aug, unet or unet_aug."""
        return REGISTRY_KEYS[(self.model, bool(self.augmentation))]


@dataclass(frozen=True)
class TrainingData:
    """Training and validation pairs, float32 (N, 32, 32, 1) in [0, 1] (masks 0/1).

    Attributes:
        source: "eliret" (the dataset's train/valid splits) or "generated" (generated
            training pairs, the shipped eliret pairs for validation).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    source: str


@dataclass(frozen=True)
class DisplayOutput:
    """The network's output on one fixed image: input, truth, grey output, binarized output."""

    name: str
    image: np.ndarray  # uint8 H×W grey
    truth: np.ndarray  # float32 H×W, 0/1
    grey: np.ndarray  # float32 H×W in [0, 1]
    binary: np.ndarray  # uint8 H×W, 0/1 (grey >= THRESHOLD)

    @property
    def iou(self) -> float:
        return metrics.iou(self.binary, self.truth)


@dataclass(frozen=True)
class TrainedModel:
    """A network trained here, kept by the caller (for one browser session, say).

    Attributes:
        request: what was trained.
        weights: the network's weights, as `keras.Model.get_weights()` gives them.
        epochs: epochs actually trained (fewer than asked when stopped).
        token: tells this model apart from every other (a key for the built-model cache).
    """

    request: TrainingRequest
    weights: list[np.ndarray]
    epochs: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def spec(self) -> registry.ModelSpec:
        """The registry model whose network and pipeline this one shares."""
        return registry.get(self.request.registry_key)

    def predict(self, image, threshold: float | None = None):
        """Runs this model on an image exactly as `segdemo.predict.predict` runs a registry model
        (the same pipeline and render stage; no output cache). Returns a `Prediction`."""
        from segdemo.output_cache import CachedOutput
        from segdemo.predict import check_threshold, render_prediction

        spec = self.spec
        threshold = check_threshold(threshold, spec)
        pixels = images.load(image)
        started = time.perf_counter()
        pipeline = spec.default_pipeline
        prepared = pipeline.preprocess(pixels)
        raw = np.asarray(_built_model(self)(prepared.batch, training=False))
        dense = pipeline.postprocess(raw, prepared)
        outputs = CachedOutput(raw, prepared.batch.shape, prepared.image_size, prepared.valid, dense)
        return render_prediction(pixels, spec, outputs, threshold, 0.5, started=started, pipeline=pipeline.name)


@dataclass(frozen=True)
class EpochUpdate:
    """What a training reports after each epoch (and once more when it ends).

    Attributes:
        epoch: epochs done so far.
        epochs: epochs asked for.
        loss, val_loss: MSE per epoch so far (training, validation).
        displays: the outputs on the fixed images after this epoch.
        steps: training batches run so far (optimizer steps).
        seconds: training time so far (pauses excluded); paused_seconds: time given to other requests.
        state: RUNNING, FINISHED, STOPPED (the stop event) or TIME_LIMIT.
        data_source: "eliret" or "generated" (see `TrainingData`).
        trained: the trained model, in the last update only (None while running, and when
            not a single epoch was completed).
    """

    epoch: int
    epochs: int
    loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    displays: tuple[DisplayOutput, ...]
    steps: int
    seconds: float
    paused_seconds: float
    state: str
    data_source: str
    trained: TrainedModel | None = None

    @property
    def done(self) -> bool:
        return self.state != RUNNING


# ---------------------------------------------------------------- data


def centred_pairs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` eliret-like 32×32 pairs: one ellipse or rectangle centred at (16, 16).

    As the course's generator: odd sides of 9–23 pixels (eliret's objects are exactly centred),
    a uniform background, the object 32 grey levels darker above 128 and lighter below,
    Gaussian noise of sigma 16, stretched to 0–255 and quantised. Even indices are ellipses.
    Returns float32 (count, 32, 32, 1) images in [0, 1] and 0/1 masks.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}.")
    rng = np.random.default_rng(seed)
    sides = np.arange(OBJECT_SIDES[0], OBJECT_SIDES[1] + 1, 2)
    images_out = np.empty((count, 32, 32, 1), np.float32)
    masks_out = np.empty((count, 32, 32, 1), np.float32)
    for index in range(count):
        height, width = (int(side) for side in rng.choice(sides, size=2))
        mask = np.zeros((32, 32), np.uint8)
        if index % 2 == 0:
            cv2.ellipse(mask, (16, 16), ((width - 1) // 2, (height - 1) // 2), 0, 0, 360, 1, thickness=-1)
        else:
            mask[16 - (height - 1) // 2 : 16 + (height - 1) // 2 + 1, 16 - (width - 1) // 2 : 16 + (width - 1) // 2 + 1] = 1
        background = float(rng.uniform(0, 255))
        foreground = background - CONTRAST if background > 128 else background + CONTRAST
        image = np.where(mask > 0, foreground, background) + rng.normal(0.0, NOISE_SIGMA, size=mask.shape)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
        images_out[index, ..., 0] = np.round(image * 255.0) / 255.0
        masks_out[index, ..., 0] = mask
    return images_out, masks_out


def shipped_pairs() -> tuple[np.ndarray, np.ndarray]:
    """The real 32×32 eliret pairs shipped in examples/ (training and test images), read as
    eliret.load_split reads the dataset."""
    pairs = [example for group in ("eliret_train", "lecture_test") for example in samples.examples(group)]
    images_in = np.stack([eliret.read_grey(example.image) for example in pairs])[..., None]
    masks = np.stack([eliret.read_grey(example.mask) for example in pairs])[..., None]
    return images_in, (masks >= 0.5).astype(np.float32)


def training_data(seed: int = 0) -> TrainingData:
    """The eliret train/valid splits when a copy is on this machine, else generated pairs
    (seeded by `seed`) for training and the shipped pairs for validation."""
    root = samples.local_dataset(eliret.SOURCE)
    if root is not None:
        train_x, train_y = eliret.load_split("train", root)
        valid_x, valid_y = eliret.load_split("valid", root)
        return TrainingData(train_x, train_y, valid_x, valid_y, "eliret")
    train_x, train_y = centred_pairs(GENERATED_PAIRS, seed)
    valid_x, valid_y = shipped_pairs()
    return TrainingData(train_x, train_y, valid_x, valid_y, "generated")


def display_images() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The two fixed images the outputs are shown on: (name, uint8 grey pixels, 0/1 truth)."""
    chosen = []
    for name, group in DISPLAY_EXAMPLES:
        example = next(example for example in samples.examples(group) if example.name == name)
        pixels = images.to_grey(images.load(example.image))
        truth = (images.to_grey(images.load(example.mask)) >= 128).astype(np.float32)
        chosen.append((name, pixels, truth))
    return chosen


# ---------------------------------------------------------------- one training at a time

_RUN_LOCK = threading.Lock()
_status_lock = threading.Lock()
_status: dict | None = None


def running() -> dict | None:
    """The running training, or None: {"model", "augmentation", "epoch", "epochs", "started"}
    (started: time.monotonic() when it began)."""
    with _status_lock:
        return dict(_status) if _status is not None else None


def _set_status(value: dict | None) -> None:
    global _status
    with _status_lock:
        _status = value


# ---------------------------------------------------------------- training


def _keras_callback(stop: threading.Event, yield_to: Callable[[], bool] | None, clock: dict):
    import keras

    class BatchGate(keras.callbacks.Callback):
        """At the end of each batch: stop at once when asked; sleep while others wait for the CPU."""

        def on_epoch_begin(self, epoch, logs=None):
            self._gate()

        def on_train_batch_end(self, batch, logs=None):
            self._gate()

        def on_test_batch_end(self, batch, logs=None):
            # The validation pass after each epoch yields and stops the same way.
            self._gate()

        def _gate(self):
            if yield_to is not None and not stop.is_set() and yield_to():
                started = time.perf_counter()
                while yield_to() and not stop.is_set():
                    time.sleep(PAUSE_POLL_S)
                clock["paused"] += time.perf_counter() - started
            if stop.is_set():
                # Raised rather than `stop_training`: Keras would still run the validation pass.
                raise _Stopped

    return BatchGate()


class _Stopped(Exception):
    """Raised from inside `fit` by the batch callback when the stop event is set."""


def build_network(request: TrainingRequest):
    """A fresh, compiled network for `request` (its own object: the app's loaded models are
    never touched), from the seed or from a copy of the committed weights (read, never written)."""
    import keras

    from segdemo import architectures, runtime, weights

    spec = registry.get(request.registry_key)
    keras.utils.set_random_seed(request.seed)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    if request.init == "committed":
        runtime.load_weights(model, weights.resolve(spec))
    # No XLA: on this CPU compiling took 10–50 s before the first epoch and made no epoch faster.
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse", jit_compile=False)
    return model


def _display(model, spec: registry.ModelSpec, shown: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[DisplayOutput, ...]:
    """The network's outputs on the fixed images, through the app's own pipeline."""
    pipeline = spec.default_pipeline
    outputs = []
    for name, pixels, truth in shown:
        prepared = pipeline.preprocess(pixels)
        dense = pipeline.postprocess(np.asarray(model(prepared.batch, training=False)), prepared)
        outputs.append(DisplayOutput(name, pixels, truth, dense.grey, (dense.scores >= THRESHOLD).astype(np.uint8)))
    return tuple(outputs)


def train(
    request: TrainingRequest,
    stop: threading.Event | None = None,
    yield_to: Callable[[], bool] | None = None,
    *,
    data: TrainingData | None = None,
    time_limit_s: float = TIME_LIMIT_S,
) -> Iterator[EpochUpdate]:
    """Trains a fresh network and yields an `EpochUpdate` after every epoch.

    The last update has `done` True and carries the trained model (unless not a single epoch
    completed). Closing the generator (a client that went away) ends the training too.

    Args:
        request: the network, augmentation, epochs, seed and initialisation.
        stop: when set (by a Stop button, a closed browser), the training ends at the end of
            the current batch, and the generator yields its last update.
        yield_to: asked at the end of each batch; while it returns True the training sleeps
            (inference requests waiting for the CPU keep their latency).
        data: the pairs to train on (default: `training_data(request.seed)`).
        time_limit_s: training seconds (pauses excluded) after which the run ends.

    Raises:
        TrainingBusyError: another training is running in this process.
    """
    if not isinstance(request, TrainingRequest):
        raise ValueError(f"request must be a TrainingRequest, got {type(request).__name__}.")
    if not _RUN_LOCK.acquire(blocking=False):
        raise TrainingBusyError("A training is already running on this server; wait until it ends, then try again.")
    try:
        yield from _train(request, stop or threading.Event(), yield_to, data, time_limit_s)
    finally:
        _set_status(None)
        _RUN_LOCK.release()


def _train(request, stop, yield_to, data, time_limit_s) -> Iterator[EpochUpdate]:
    from segdemo import runtime

    started = time.perf_counter()  # the run's time includes building the network and tracing its graph
    status = {"model": request.model, "augmentation": request.augmentation, "epoch": 0, "epochs": request.epochs}
    _set_status({**status, "started": time.monotonic()})
    runtime.import_tensorflow()  # one thread at a time: the app's start-up may be importing it too
    data = data or training_data(request.seed)
    spec = registry.get(request.registry_key)
    shown = display_images()
    model = build_network(request)
    batch_size = BATCH_SIZES[request.model]
    if request.augmentation:
        from segdemo.augment import augmented_dataset

        # A fresh random shift and flip of every pair in every epoch; validation stays as it is.
        fit_inputs = {
            "x": augmented_dataset(data.train_x, data.train_y, preset="eliret", batch_size=batch_size, seed=request.seed),
            "shuffle": False,
        }
    else:
        fit_inputs = {"x": data.train_x, "y": data.train_y, "batch_size": batch_size, "shuffle": True}
    clock = {"paused": 0.0}
    gate = _keras_callback(stop, yield_to, clock)
    loss: list[float] = []
    val_loss: list[float] = []
    state = RUNNING
    displays = _display(model, spec, shown)

    def update(seconds: float, trained: TrainedModel | None = None) -> EpochUpdate:
        """The report of the epochs done so far, in the current state."""
        return EpochUpdate(
            len(loss),
            request.epochs,
            tuple(loss),
            tuple(val_loss),
            displays,
            _steps(model),
            seconds,
            clock["paused"],
            state,
            data.source,
            trained,
        )

    for epoch in range(request.epochs):
        if stop.is_set():  # pressed while the network was being built: no graph to trace
            state = STOPPED
            break
        try:
            history = model.fit(
                **fit_inputs,
                validation_data=(data.valid_x, data.valid_y),
                epochs=epoch + 1,
                initial_epoch=epoch,
                callbacks=[gate],
                verbose=0,
            )
        except _Stopped:
            state = STOPPED
            break
        loss.append(float(history.history["loss"][-1]))
        val_loss.append(float(history.history["val_loss"][-1]))
        displays = _display(model, spec, shown)
        seconds = time.perf_counter() - started - clock["paused"]
        if stop.is_set():
            state = STOPPED
        elif epoch + 1 == request.epochs:
            state = FINISHED
        elif seconds > time_limit_s:
            state = TIME_LIMIT
        _set_status({**(running() or {}), "epoch": epoch + 1})
        if state != RUNNING:
            break
        yield update(seconds)
    trained = TrainedModel(request, [np.array(weight) for weight in model.get_weights()], len(loss)) if loss else None
    yield update(time.perf_counter() - started - clock["paused"], trained)


def _steps(model) -> int:
    """Optimizer steps taken (0 before the first: Keras builds the optimizer on the first batch)."""
    optimizer = getattr(model, "optimizer", None)
    return int(optimizer.iterations.numpy()) if optimizer is not None and optimizer.built else 0


# ---------------------------------------------------------------- models trained here, for the comparison

_built: collections.OrderedDict[str, object] = collections.OrderedDict()
_built_lock = threading.Lock()


def _built_model(trained: TrainedModel):
    """The Keras network of a trained model, built once per model (a few kept, least recently used out)."""
    from segdemo import architectures, runtime

    with _built_lock:
        if trained.token in _built:
            _built.move_to_end(trained.token)
            return _built[trained.token]
    runtime.import_tensorflow()
    spec = trained.spec
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    model.set_weights(trained.weights)
    with _built_lock:
        _built[trained.token] = model
        while len(_built) > SESSION_MODELS_KEPT:
            _built.popitem(last=False)
    return model


# ---------------------------------------------------------------- a figure of the outputs

COLUMN_TITLES = ("input", "ideal output", "grey output", "binarized output")


FIGURE_TOP_MARGIN = 28  # room for the label a web page floats over the figure's top-left corner


def outputs_figure(
    displays: tuple[DisplayOutput, ...] | list[DisplayOutput],
    column_titles: tuple[str, ...] | list[str] = COLUMN_TITLES,
    size: int = 140,
) -> np.ndarray:
    """One row per fixed image: input, truth, grey output, binarized output (uint8 RGB)."""
    if len(column_titles) != 4:
        raise ValueError(f"Four column titles are needed, got {len(column_titles)}.")
    cells = [
        [shown.image, render.binary(shown.truth), render.grey(shown.grey), render.binary(shown.binary)] for shown in displays
    ]
    return render.grid(cells, list(column_titles), size, top=FIGURE_TOP_MARGIN)
