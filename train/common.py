"""Pieces shared by the training scripts: progress printing, seeding, metrics files."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import keras
import numpy as np


def set_seeds(seed: int) -> None:
    """Seeds Python, NumPy and Keras (TensorFlow) so that a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


class EpochProgress(keras.callbacks.Callback):
    """Prints one line every `every` epochs with the losses and the time left.

    Keras' own per-epoch bars are far too chatty for the lecture's 1000 epochs.
    """

    def __init__(self, total_epochs: int, every: int = 10) -> None:
        super().__init__()
        self.total_epochs = total_epochs
        self.every = max(1, every)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.total_epochs:
            return
        logs = logs or {}
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / done * (self.total_epochs - done)
        losses = "  ".join(f"{name} {value:.5f}" for name, value in logs.items() if "loss" in name or "accuracy" in name)
        print(f"epoch {done}/{self.total_epochs}  {losses}  elapsed {elapsed:.0f}s  left ~{remaining:.0f}s", flush=True)


def merge_history(previous: dict[str, list[float]] | None, new: dict[str, list[float]]) -> dict[str, list[float]]:
    """Appends a resumed run's history to the earlier one, as the lecture's continued training does."""
    merged = {name: list(values) for name, values in (previous or {}).items()}
    for name, values in new.items():
        merged.setdefault(name, []).extend(float(v) for v in values)
    return merged


def read_metrics(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def write_metrics(path: Path, metrics: dict) -> None:
    """Writes the metrics JSON atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(metrics, indent=2) + "\n")
    os.replace(partial, path)


def fit_keeping_best(
    model: keras.Model, *, checkpoint_path: Path, epochs: int, validation_data, progress_every: int, **fit_arguments
) -> tuple[dict, float]:
    """`model.fit(...)`, then restores the weights of the epoch with the lowest validation loss.

    The best weights so far are kept in `checkpoint_path` during training, so a long run that
    is stopped early still leaves its best model behind (the file is removed at the end).
    Returns (history dict, seconds). The lecture keeps the last epoch's model; on a small
    validation split the best epoch is a better and still honest choice (the test split is
    never looked at while training).
    """
    started = time.perf_counter()
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = keras.callbacks.ModelCheckpoint(checkpoint_path, monitor="val_loss", save_best_only=True, save_weights_only=True)
    history = model.fit(
        **fit_arguments,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=[checkpoint, EpochProgress(epochs, progress_every)],
        verbose=0,
    )
    model.load_weights(checkpoint_path)
    checkpoint_path.unlink()
    return history.history, time.perf_counter() - started


def save_model_weights(model: keras.Model, fresh_model: keras.Model, path: Path) -> None:
    """Saves only the network's weights, through `fresh_model` (the same architecture, never
    compiled). A compiled model's `save_weights` also stores the optimizer's state (Adam: two
    more copies of every weight), which the app never needs; `clone_model` keeps it too."""
    fresh_model.set_weights(model.get_weights())
    fresh_model.save_weights(path)
