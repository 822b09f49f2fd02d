"""Train the eliret models: FCN (lecture program 2), U-Net (program 4) and their augmented twins.

The network comes from the registry (`segdemo.registry`), so the app loads exactly what was
trained here. The run writes, in the output folder:
- `<key>.weights.h5`: the weights with the lowest validation loss;
- `<key>.metrics.json`: train/valid/test MSE and IoU at 0.5, IoU on the large images, the
  settings and the loss history;
- `<key>.loss.png`: training vs validation loss (the lecture's impHistoria).

Example:
    python -m train fcn --epochs 1000
    python -m train unet_aug --epochs 300 --resume
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from segdemo import architectures, metrics, pipelines, registry, settings
from segdemo.augment import augmented_dataset, symmetric_dataset
from segdemo.datasets import eliret
from segdemo.datasets.synthetic import make_large_images
from train import common
from train.plots import save_loss_plot

THRESHOLD = 0.5  # the lecture binarizes the grey output at 0.5
LARGE_SYNTHETIC_COUNT = 20  # generated large images, on top of maior1/maior2
LARGE_SYNTHETIC_SEED = 2024


@dataclass(frozen=True)
class Recipe:
    """The lecture's training settings for one model."""

    batch_size: int
    epochs: int
    learning_rate: float
    augmentation: str  # "none", "symmetries" (rotations/mirrors, objects stay centred) or "shifts" (the lecture's aug_dict)


RECIPES = {
    "fcn": Recipe(batch_size=20, epochs=1000, learning_rate=1e-3, augmentation="none"),
    # On 100 pairs the plain U-Net memorises (train MSE 6e-5, validation 0.012 and rising);
    # exact 90° rotations and mirrors of the centred pairs bring validation MSE below 0.008.
    "unet": Recipe(batch_size=10, epochs=1000, learning_rate=1e-3, augmentation="symmetries"),
    "fcn_aug": Recipe(batch_size=20, epochs=1000, learning_rate=1e-3, augmentation="shifts"),
    "unet_aug": Recipe(batch_size=10, epochs=1000, learning_rate=1e-3, augmentation="shifts"),
    # The homework variants train like their parents.
    "fcn_skip": Recipe(batch_size=20, epochs=1000, learning_rate=1e-3, augmentation="none"),
    "unet_strided": Recipe(batch_size=10, epochs=1000, learning_rate=1e-3, augmentation="symmetries"),
}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", choices=sorted(RECIPES), help="registry key of the model to train")
    parser.add_argument(
        "--data-dir", type=Path, help="eliret folder (default: SEGDEMO_DATA_DIR/eliret, the cache, or a download)"
    )
    parser.add_argument("--epochs", type=int, help="epochs (default: the lecture's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the lecture's)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None, help="output folder (default: the weights folder)")
    parser.add_argument("--resume", action="store_true", help="start from the weights already in the output folder")
    parser.add_argument("--progress-every", type=int, default=25, help="print a progress line every N epochs")
    return parser.parse_args(argv)


def evaluate(model: keras.Model, spec: registry.ModelSpec, images: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """MSE of the grey output and IoU of the binarized output, over a stack of images."""
    scores = np.asarray(model(images, training=False))
    if spec.default_pipeline.linear_output:
        scores = np.clip(scores, 0.0, 1.0)
    return {"mse": metrics.mse(scores, masks), "iou": metrics.iou(scores >= THRESHOLD, masks)}


def evaluate_large(model: keras.Model, spec: registry.ModelSpec, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """IoU pooled over larger images (padded to a multiple of 8, run at full size, cropped back)."""
    predicted, truths, squared = [], [], []
    for image, truth in pairs:
        padded = pipelines.pad_to_multiple(image, spec.default_pipeline.size_multiple)
        scores = np.asarray(model(padded[None, ..., None], training=False))[0, : image.shape[0], : image.shape[1], 0]
        scores = np.clip(scores, 0.0, 1.0)
        predicted.append((scores >= THRESHOLD).ravel())
        truths.append(truth.ravel())
        squared.append(((scores - truth) ** 2).ravel())
    return {
        "iou": metrics.iou(np.concatenate(predicted), np.concatenate(truths)),
        "mse": float(np.mean(np.concatenate(squared))),
        "count": len(pairs),
    }


def large_image_pairs(root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """maior1/maior2 from the dataset plus generated large images with several objects."""
    pairs = [(eliret.read_grey(x), (eliret.read_grey(y) >= 0.5).astype(np.float32)) for x, y in eliret.large_pairs(root)]
    return pairs + make_large_images(LARGE_SYNTHETIC_COUNT, seed=LARGE_SYNTHETIC_SEED)


def train(arguments: argparse.Namespace) -> dict:
    spec = registry.get(arguments.model)
    recipe = RECIPES[spec.key]
    epochs = arguments.epochs or recipe.epochs
    batch_size = arguments.batch_size or recipe.batch_size
    if epochs < 1 or batch_size < 1:
        raise ValueError("--epochs and --batch-size must be positive.")
    output = arguments.output or settings.weights_dir()
    weights_path = output / spec.weights_file
    metrics_path = output / f"{spec.key}.metrics.json"
    common.set_seeds(arguments.seed)

    root = arguments.data_dir or eliret.folder()
    train_x, train_y = eliret.load_split("train", root)
    valid_x, valid_y = eliret.load_split("valid", root)
    test_x, test_y = eliret.load_split("test", root)

    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    previous = common.read_metrics(metrics_path) if arguments.resume else {}
    if arguments.resume:
        if not weights_path.exists():
            raise ValueError(f"--resume: no weights to resume from at {weights_path}")
        model.load_weights(weights_path)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss="mse")

    if recipe.augmentation == "shifts":
        # A fresh random shift/flip of every training pair in every epoch; validation stays as is.
        fit_inputs = {
            "x": augmented_dataset(train_x, train_y, preset="eliret", batch_size=batch_size, seed=arguments.seed),
            "shuffle": False,
        }
    elif recipe.augmentation == "symmetries":
        fit_inputs = {"x": symmetric_dataset(train_x, train_y, batch_size=batch_size, seed=arguments.seed), "shuffle": False}
    else:
        fit_inputs = {"x": train_x, "y": train_y, "batch_size": batch_size, "shuffle": True}

    print(f"Training {spec.key} ({model.count_params():,} parameters) for {epochs} epochs, batch {batch_size}.", flush=True)
    history, seconds = common.fit_keeping_best(
        model,
        checkpoint_path=output / f"{spec.key}.checkpoint.weights.h5",
        epochs=epochs,
        validation_data=(valid_x, valid_y),
        progress_every=arguments.progress_every,
        **fit_inputs,
    )

    output.mkdir(parents=True, exist_ok=True)
    common.save_model_weights(model, architectures.build(spec.architecture, **spec.arch_kwargs), weights_path)
    full_history = common.merge_history(previous.get("history"), history)
    results = {
        "model": spec.key,
        "parameters": model.count_params(),
        "epochs": len(full_history.get("loss", [])),
        "batch_size": batch_size,
        "learning_rate": recipe.learning_rate,
        "augmentation": recipe.augmentation,
        "seed": arguments.seed,
        "train_seconds": round(seconds + previous.get("train_seconds", 0.0), 1),
        "threshold": THRESHOLD,
        "train": evaluate(model, spec, train_x, train_y),
        "valid": evaluate(model, spec, valid_x, valid_y),
        "test": evaluate(model, spec, test_x, test_y),
        "large": evaluate_large(model, spec, large_image_pairs(root)),
        "history": full_history,
    }
    common.write_metrics(metrics_path, results)
    save_loss_plot(full_history, output / f"{spec.key}.loss.png", f"{spec.title}: loss (MSE) per epoch")
    print(
        f"{spec.key}: test MSE {results['test']['mse']:.5f}, test IoU {results['test']['iou']:.3f}, "
        f"large-image IoU {results['large']['iou']:.3f}; wrote {weights_path}",
        flush=True,
    )
    return results


def main(argv: list[str] | None = None) -> dict:
    return train(parse_arguments(argv))


if __name__ == "__main__":
    main()
