"""Train the membrane U-Net (lecture programs 6–7) and its no-skip ablation on ISBI-2012 slices.

Slices 0–19 train and slices 20–24 validate; both are resized to 128×128 as in the lecture.
Every training batch is a fresh random rotation/shift/shear/zoom/flip of the slices, the same
transform for image and label, applied at 512×512 before the reduction to 128×128
(`segdemo.augment`). The network predicts "cell interior" (label 255), as the lecture's does;
metrics are reported for the membrane class.

CPU budget: the lecture's width (`--base-filters 64`) costs about 10 s per batch-10 step on a
2-core CPU, so the registry's models use 32 base filters (about 4× fewer multiply-adds).
Pass `--base-filters 64` on a GPU for the lecture's network.

Writes `<key>.weights.h5`, `<key>.metrics.json` and `<key>.loss.png` to the output folder.

Example:
    python -m train membrane_unet --epochs 40
    python -m train membrane_noskip --epochs 25
    python -m train membrane_unet_256 --resume --pseudo-labels --soft-labels --epochs 6   # self-training
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import cv2
import keras
import numpy as np

from segdemo import architectures, border_weights, metrics, registry, runtime, settings
from segdemo.augment import MEMBRANE_TRAINING, augmented_dataset
from segdemo.datasets import membrane
from train import common
from train.plots import save_loss_plot

THRESHOLD = 0.5
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 8
DEFAULT_STEPS_PER_EPOCH = 40
LEARNING_RATE = 1e-3  # BatchNormalization tolerates a larger rate than zhixuhao's 1e-4
# With --pseudo-labels the 20 labelled slices are drawn twice as often as each unlabelled one,
# so that the 30 slices labelled by the network itself do not outweigh the human labels.
LABELLED_REPEATS = 2
MODELS = tuple(registry.keys("membrane"))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", choices=MODELS)
    parser.add_argument(
        "--data-dir", type=Path, help="membrane folder (default: SEGDEMO_DATA_DIR/membrane, the cache, or a download)"
    )
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--steps-per-epoch", type=int, default=DEFAULT_STEPS_PER_EPOCH)
    parser.add_argument(
        "--base-filters", type=int, help="width: filters of the first level (registry default; 64 = the lecture's)"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=LEARNING_RATE, help="Adam's learning rate (lower it to fine-tune with --resume)"
    )
    parser.add_argument(
        "--soft-labels",
        action="store_true",
        help="train on the reduced masks' coverage fractions instead of re-binarized masks "
        "(the scores, resized back to 512×512, then place thin membranes between the network's pixels)",
    )
    parser.add_argument(
        "--elastic",
        type=float,
        default=0.0,
        metavar="PIXELS",
        help="elastic deformations as in the U-Net paper: displacements on a 3×3 grid with this standard "
        "deviation in pixels at 512×512 (the paper: 10), interpolated bicubically (default 0: none)",
    )
    parser.add_argument(
        "--symmetries",
        action="store_true",
        help="also turn each sample by a random multiple of 90° and mirror it top to bottom half of the time: "
        "with the horizontal flip, the eight views test-time augmentation averages over",
    )
    parser.add_argument("--brightness", type=float, default=0.0, help="brightness drawn in ±this (intensities in [0, 1])")
    parser.add_argument("--contrast", type=float, default=0.0, help="contrast factor drawn in [1 − this, 1 + this]")
    parser.add_argument("--gamma", type=float, default=0.0, help="gamma drawn in [1 − this, 1 + this]")
    parser.add_argument(
        "--pseudo-labels",
        action="store_true",
        help="self-training: also train on the 30 unlabelled test slices, labelled by the starting weights "
        "with test-time augmentation (use with --resume or --init-from); the labelled slices count twice",
    )
    parser.add_argument(
        "--border-weight",
        type=float,
        default=0.0,
        metavar="W0",
        help="the U-Net paper's weight map: the loss on membrane pixels between two nearby cells weighted up to "
        "1 + W0 (the paper: 10; default 0: every pixel weighs 1), see segdemo.border_weights",
    )
    parser.add_argument(
        "--border-sigma",
        type=float,
        default=border_weights.PAPER_SIGMA,
        metavar="PIXELS",
        help="the weight map's width in pixels at 512×512 (the paper: about 5)",
    )
    parser.add_argument(
        "--border-keep-total",
        action="store_true",
        help="with --border-weight: rescale each slice's membrane weights to a mean of 1, so that the map only "
        "shifts weight to the thin membranes between cells instead of making membrane weigh more than cell",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None, help="output folder (default: the weights folder)")
    parser.add_argument("--resume", action="store_true", help="start from the weights already in the output folder")
    parser.add_argument(
        "--init-from",
        help="start from another membrane model's committed weights (the U-Net is fully convolutional, "
        "so the 128×128 model's weights fit the 256×256 network)",
    )
    parser.add_argument("--progress-every", type=int, default=1)
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in bfloat16 while training (Keras' mixed_bfloat16: the weights and the output layer stay "
        "float32); about 1.7x faster a step on a CPU with AMX; needs native bfloat16 (avx512_bf16 or amx_bf16) "
        "or a GPU. The figures written at the end are computed in float32, as the app runs the network",
    )
    parser.add_argument(
        "--average",
        nargs="+",
        type=Path,
        metavar="WEIGHTS",
        help="no training: average these weight files of the same network (the kept epochs of "
        "resumed stretches, say), evaluate the average and write it to the output folder with the "
        "metrics already there (stochastic weight averaging)",
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="no training: evaluate the weights in the output folder again (with the challenge's pixel and Rand "
        "errors, and test-time augmentation) and rewrite the metrics file's validation figures",
    )
    return parser.parse_args(argv)


def membrane_scores(cell_probability: np.ndarray) -> np.ndarray:
    """The network gives P(cell interior); the membrane score is its complement."""
    return 1.0 - cell_probability


def accuracy(y_true, y_pred):
    """Keras' binary accuracy against the masks binarized at 0.5: with soft labels the loss
    sees coverage fractions, but a pixel is still right or wrong by its majority class."""
    return keras.metrics.binary_accuracy(keras.ops.cast(y_true >= 0.5, y_pred.dtype), y_pred)


INFERENCE_BATCH = 4
"""Slices per forward pass outside training: the 30 unlabelled slices in one pass at 256×256 took
the training's peak memory from 4 GB to 14 GB (the allocator keeps what a pass held)."""


def network_output(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The network's output on `images`, INFERENCE_BATCH slices at a time (the same values)."""
    return np.concatenate(
        [
            np.asarray(model(images[start : start + INFERENCE_BATCH], training=False))
            for start in range(0, len(images), INFERENCE_BATCH)
        ]
    )


def symmetric_mean(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The network's output averaged over the eight flips and 90° rotations of its input, each
    turned back first (test-time augmentation, as `predict(..., tta=True)` does)."""
    from segdemo.predict import symmetric_views, undo_views

    outputs = [network_output(model, view) for view in symmetric_views(images)]
    return np.mean(undo_views(outputs), axis=0)


def membrane_labels_at(cell_probability: np.ndarray, size: int) -> np.ndarray:
    """Membrane labels (N, size, size) from the network's (N, h, w, 1) cell probabilities: resized
    bilinearly and thresholded, as `predict()` does for a slice of that size."""
    upsampled = np.stack([cv2.resize(p[..., 0], (size, size), interpolation=cv2.INTER_LINEAR) for p in cell_probability])
    return membrane_scores(upsampled) >= THRESHOLD


def full_resolution_figures(cell_probability: np.ndarray, full_masks: np.ndarray) -> dict:
    """Accuracy, membrane IoU and F1, and the ISBI challenge's pixel error and adapted Rand error
    (mean over the slices) with the scores resized back to the masks' size, as `predict()` does."""
    size = full_masks.shape[1]
    full_labels = membrane_labels_at(cell_probability, size)
    full_truth = 1.0 - full_masks[..., 0]
    return {
        "size": size,
        "accuracy": metrics.pixel_accuracy(full_labels, full_truth),
        "membrane_iou": metrics.iou(full_labels, full_truth),
        "membrane_f1": metrics.f1(full_labels, full_truth),
        "pixel_error": metrics.pixel_error(full_labels, full_truth),
        "rand_error": float(np.mean([metrics.membrane_rand_error(p, t) for p, t in zip(full_labels, full_truth)])),
    }


def evaluate(
    model: keras.Model, images: np.ndarray, cell_masks: np.ndarray, full_masks: np.ndarray | None = None, tta: bool = False
) -> dict:
    """Loss, pixel accuracy, membrane IoU and F1 at the network's resolution and, when
    `full_masks` are given, with the scores resized back to 512×512 (as `predict()` does), with
    the challenge's pixel and Rand errors; with `tta` also the same at 512×512 for the mean over
    the eight flips and rotations (`full_resolution_tta`).
    Soft `cell_masks` enter the loss as they are and the other figures binarized at 0.5."""
    cell_probability = network_output(model, images)
    loss = float(keras.losses.binary_crossentropy(cell_masks, cell_probability).numpy().mean())
    membrane_truth = cell_masks < 0.5
    membrane_labels = membrane_scores(cell_probability) >= THRESHOLD
    results = {
        "loss": loss,
        "accuracy": metrics.pixel_accuracy(membrane_labels, membrane_truth),
        "membrane_iou": metrics.iou(membrane_labels, membrane_truth),
        "membrane_f1": metrics.f1(membrane_labels, membrane_truth),
    }
    if full_masks is not None:
        results["full_resolution"] = full_resolution_figures(cell_probability, full_masks)
        if tta:
            results["full_resolution_tta"] = full_resolution_figures(symmetric_mean(model, images), full_masks)
    return results


def bfloat16_is_native() -> bool:
    """Whether Keras' mixed_bfloat16 can be faster here: a GPU, or a CPU with native bfloat16."""
    import tensorflow as tf

    return settings.native_bf16() or bool(tf.config.list_physical_devices("GPU"))


def training_network(spec: registry.ModelSpec, arch_kwargs: dict, mixed_precision: bool) -> keras.Model:
    """The network to train: float32, or with `mixed_precision` computing in bfloat16 (its weights,
    and its output layer, in float32: the loss near 0 and 1 needs float32's resolution)."""
    if not mixed_precision:
        return architectures.build(spec.architecture, **arch_kwargs)
    with runtime.dtype_policy("fast"):  # Keras' mixed_bfloat16, read when each layer is created
        return architectures.build(spec.architecture, **arch_kwargs, output_dtype="float32")


def float32_copy(model: keras.Model, spec: registry.ModelSpec, arch_kwargs: dict) -> keras.Model:
    """`model` itself when it computes in float32, else a float32 network with its weights."""
    if model.compute_dtype == "float32":
        return model
    copy = architectures.build(spec.architecture, **arch_kwargs)
    copy.set_weights(model.get_weights())
    return copy


def network_arguments(spec: registry.ModelSpec, arguments: argparse.Namespace) -> dict:
    """The builder's arguments: the registry's, with --base-filters when given."""
    arch_kwargs = dict(spec.arch_kwargs)
    if arguments.base_filters:
        arch_kwargs["base_filters"] = arguments.base_filters
    return arch_kwargs


AUGMENTATION_OPTIONS = ("elastic", "brightness", "contrast", "gamma")


def training_distortions(arguments: argparse.Namespace) -> dict:
    """The options that add to the lecture's affine augmentation, as the metrics file records them."""
    extra = {name: float(getattr(arguments, name)) for name in AUGMENTATION_OPTIONS}
    # Recorded only when on, so that the earlier stretches' records keep their shape.
    return {**extra, "symmetries": True} if getattr(arguments, "symmetries", False) else extra


def augmentation_text(size: int, extra: dict) -> str:
    """The metrics file's one-line description of the augmentation."""
    text = f"one affine transform per sample at full resolution, then area reduction to {size}x{size}"
    if extra.get("elastic"):
        text = text.replace("one affine transform", f"one affine transform and elastic deformation ({extra['elastic']:g} px)")
    if extra.get("symmetries"):
        text = text.replace("one affine transform", "one affine transform composed with one of the eight flips and 90° turns")
    changes = [f"{name} {extra[name]:g}" for name in ("brightness", "contrast", "gamma") if extra.get(name)]
    return text + (f"; intensity: {', '.join(changes)}" if changes else "")


def validation_slices(root: Path, size: int, soft_masks: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validation images and masks at the network's size, and the masks at full resolution."""
    valid_x, valid_y = membrane.load_slices(membrane.VALID_SLICES, root, size, soft_masks=soft_masks)
    _, valid_full_y = membrane.load_slices(membrane.VALID_SLICES, root, None)
    return valid_x, valid_y, valid_full_y


def pseudo_labelled_slices(model: keras.Model, root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The unlabelled test slices at full resolution with the labels `model` gives them.

    Each slice is reduced to the network's size as the validation slices are, its cell
    probability averaged over the eight flips and rotations (so that a label does not depend on
    the slice's orientation), resized back to full resolution as `predict()` does and binarized at
    the threshold: a mask like the human ones, which the augmentation then transforms and reduces.

    Returns:
        Images in [0, 1] and cell-interior masks (1 = cell), shape (N, 512, 512, 1).
    """
    paths = membrane.test_paths(root)
    if not paths:
        raise ValueError(f"--pseudo-labels: no unlabelled slices in {root / 'test'}")
    images = np.stack([membrane.read_slice(path).astype(np.float32) / 255.0 for path in paths])
    reduced = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])[..., None]
    cells = ~membrane_labels_at(symmetric_mean(model, reduced), images.shape[1])
    return images[..., None], cells.astype(np.float32)[..., None]


def train(arguments: argparse.Namespace) -> dict:
    spec = registry.get(arguments.model)
    if arguments.epochs < 1 or arguments.batch_size < 1 or arguments.steps_per_epoch < 1:
        raise ValueError("--epochs, --batch-size and --steps-per-epoch must be positive.")
    arch_kwargs = network_arguments(spec, arguments)
    extra = training_distortions(arguments)
    try:
        distortions = dataclasses.replace(MEMBRANE_TRAINING, **extra)
    except ValueError as error:
        raise ValueError(f"--elastic, --symmetries, --brightness, --contrast, --gamma: {error}") from error
    if not arguments.border_weight and (arguments.border_keep_total or arguments.border_sigma != border_weights.PAPER_SIGMA):
        raise ValueError("--border-sigma and --border-keep-total shape the weight map of --border-weight: add --border-weight W0")
    if arguments.mixed_precision and not bfloat16_is_native():
        raise ValueError(
            "--mixed-precision: this machine has no GPU and its CPU no native bfloat16 (avx512_bf16 or amx_bf16), "
            "where bfloat16 is emulated and slower than float32; train without it"
        )
    output = arguments.output or settings.weights_dir()
    weights_path = output / spec.weights_file
    metrics_path = output / f"{spec.key}.metrics.json"
    common.set_seeds(arguments.seed)

    root = arguments.data_dir or membrane.folder()
    size = spec.input_size[0]
    # Training slices stay at full resolution: each is transformed there and then reduced to
    # the network's size, as the validation slices are (see segdemo.augment).
    train_x, train_y = membrane.load_slices(membrane.TRAIN_SLICES, root, None)
    valid_x, valid_y, valid_full_y = validation_slices(root, size, arguments.soft_labels)

    model = training_network(spec, arch_kwargs, arguments.mixed_precision)
    previous = common.read_metrics(metrics_path) if arguments.resume else {}
    if arguments.resume:
        if not weights_path.exists():
            raise ValueError(f"--resume: no weights to resume from at {weights_path}")
        model.load_weights(weights_path)
    elif arguments.init_from:
        source = registry.get(arguments.init_from)
        # The weights do not depend on the input's size nor on the mirrored border's width.
        unsized = {"input_size": None, "mirror": None}
        if source.family != "membrane" or dict(source.arch_kwargs, **unsized) != dict(arch_kwargs, **unsized):
            raise ValueError(
                f"--init-from: {source.key} is not the same network as {spec.key} (only the input size and the mirrored border may differ)"
            )
        model.load_weights(settings.weights_dir() / source.weights_file)
    pseudo, labelled_y, extra_y = {}, train_y, None
    if arguments.pseudo_labels:
        if not (arguments.resume or arguments.init_from):
            raise ValueError("--pseudo-labels needs trained starting weights: add --resume or --init-from")
        extra_x, extra_y = pseudo_labelled_slices(float32_copy(model, spec, arch_kwargs), root, size)
        train_x = np.concatenate([train_x] * LABELLED_REPEATS + [extra_x])
        train_y = np.concatenate([train_y] * LABELLED_REPEATS + [extra_y])
        pseudo = {"pseudo_labels": {"slices": len(extra_x), "labelled_repeats": LABELLED_REPEATS}}
        print(f"Self-training: {len(extra_x)} unlabelled slices labelled by the starting weights (TTA).", flush=True)
    loss_weights, weighting = None, {}
    if arguments.border_weight:
        # Computed once on the full-resolution labels, then moved and reduced with them.
        # The labelled slices repeated for self-training share their maps: each is computed once.
        def maps(cell_masks):
            return border_weights.weight_maps(
                cell_masks, arguments.border_weight, arguments.border_sigma, arguments.border_keep_total
            )

        try:
            loss_weights = maps(labelled_y)
            if extra_y is not None:
                loss_weights = np.concatenate([loss_weights] * LABELLED_REPEATS + [maps(extra_y)])
        except ValueError as error:
            raise ValueError(f"--border-weight, --border-sigma: {error}") from error
        recorded = {"w0": arguments.border_weight, "sigma": arguments.border_sigma}
        weighting = {"border_weights": recorded | ({"keep_membrane_total": True} if arguments.border_keep_total else {})}
        print(f"Weight map: mean weight {loss_weights.mean():.2f}, up to {loss_weights.max():.1f}.", flush=True)
    model.compile(optimizer=keras.optimizers.Adam(arguments.learning_rate), loss="binary_crossentropy", metrics=[accuracy])
    # 20 slices are few: repeat them and draw a fresh augmentation for every sample.
    training_data = augmented_dataset(
        train_x,
        train_y,
        preset="membrane",
        batch_size=arguments.batch_size,
        seed=arguments.seed,
        output_size=size,
        soft_masks=arguments.soft_labels,
        distortions=distortions,
        weights=loss_weights,
    ).repeat()

    print(
        f"Training {spec.key} ({model.count_params():,} parameters, base filters {arch_kwargs['base_filters']}) "
        f"for {arguments.epochs} epochs × {arguments.steps_per_epoch} steps, batch {arguments.batch_size}.",
        flush=True,
    )
    history, seconds = common.fit_keeping_best(
        model,
        checkpoint_path=output / f"{spec.key}.checkpoint.weights.h5",
        x=training_data,
        steps_per_epoch=arguments.steps_per_epoch,
        shuffle=False,  # the dataset shuffles itself
        epochs=arguments.epochs,
        validation_data=(valid_x, valid_y),
        progress_every=arguments.progress_every,
    )

    output.mkdir(parents=True, exist_ok=True)
    written = architectures.build(spec.architecture, **arch_kwargs)  # float32, never compiled: what the app loads
    common.save_model_weights(model, written, weights_path)
    if arguments.mixed_precision:
        model = written  # the figures below in float32, as the app computes them
    full_history = common.merge_history(previous.get("history"), history)
    # What each stretch of a resumed training used (a run without this record was one stretch).
    phases = previous.get("phases") or (
        [{"epochs": previous["epochs"], "learning_rate": previous["learning_rate"], "soft_labels": False}] if previous else []
    )
    phases = [
        *phases,
        {
            "epochs": len(history.get("loss", [])),
            "learning_rate": arguments.learning_rate,
            "soft_labels": arguments.soft_labels,
            "seed": arguments.seed,
            **extra,
            **pseudo,
            **weighting,
            **({"mixed_precision": "bfloat16"} if arguments.mixed_precision else {}),
        },
    ]
    results = {
        "model": spec.key,
        "parameters": model.count_params(),
        "base_filters": arch_kwargs["base_filters"],
        "skip_connections": arch_kwargs.get("skip_connections", True),
        "input_size": list(spec.input_size),
        "epochs": len(full_history.get("loss", [])),
        "steps_per_epoch": arguments.steps_per_epoch,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.learning_rate,
        "augmentation": augmentation_text(size, extra),
        "labels": membrane.LABEL_KINDS[arguments.soft_labels],
        "phases": phases,
        "seed": arguments.seed,
        "initialised_from": previous.get("initialised_from", arguments.init_from),
        "train_seconds": round(seconds + previous.get("train_seconds", 0.0), 1),
        "threshold": THRESHOLD,
        "train_slices": [membrane.TRAIN_SLICES.start, membrane.TRAIN_SLICES.stop - 1],
        "valid_slices": [membrane.VALID_SLICES.start, membrane.VALID_SLICES.stop - 1],
        "valid": evaluate(model, valid_x, valid_y, valid_full_y, tta=True),
        "history": full_history,
    }
    common.write_metrics(metrics_path, results)
    save_loss_plot(full_history, output / f"{spec.key}.loss.png", f"{spec.title}: loss (binary cross-entropy) per epoch")
    valid = results["valid"]
    print(
        f"{spec.key}: validation accuracy {valid['accuracy']:.4f} (512×512: {valid['full_resolution']['accuracy']:.4f}), "
        f"membrane IoU {valid['membrane_iou']:.3f}, F1 {valid['membrane_f1']:.3f}; wrote {weights_path}",
        flush=True,
    )
    report(spec.key, valid)
    return results


def average(arguments: argparse.Namespace) -> dict:
    """Writes the mean of several weight files of one network, evaluated as `train` does.

    Weights from one training, a few epochs apart, lie in the same basin of the loss: their mean
    usually sits nearer its centre than any of them (Izmailov et al., 2018, "Averaging weights
    leads to wider optima"). BatchNormalization's moving statistics are averaged too.
    """
    spec = registry.get(arguments.model)
    if len(arguments.average) < 2:
        raise ValueError("--average needs at least two weight files.")
    arch_kwargs = network_arguments(spec, arguments)
    output = arguments.output or settings.weights_dir()
    metrics_path = output / f"{spec.key}.metrics.json"
    previous = common.read_metrics(metrics_path)
    if not previous:
        raise ValueError(f"--average: no metrics at {metrics_path} to carry over (train into that folder first)")
    model = architectures.build(spec.architecture, **arch_kwargs)
    stacks = []
    for path in arguments.average:
        model.load_weights(path)  # raises when a file is not this network
        stacks.append(model.get_weights())
    model.set_weights([np.mean(values, axis=0) for values in zip(*stacks)])

    # Evaluated against the labels the weights were last trained on (their loss differs).
    soft = previous.get("labels") == membrane.LABEL_KINDS[True]
    valid_x, valid_y, valid_full_y = validation_slices(arguments.data_dir or membrane.folder(), spec.input_size[0], soft)
    output.mkdir(parents=True, exist_ok=True)
    common.save_model_weights(model, architectures.build(spec.architecture, **arch_kwargs), output / spec.weights_file)
    results = {
        **previous,
        "averaged": [f"{path.parent.name}/{path.name}" for path in arguments.average],
        "valid": evaluate(model, valid_x, valid_y, valid_full_y, tta=True),
    }
    common.write_metrics(metrics_path, results)
    valid = results["valid"]
    print(
        f"{spec.key}: mean of {len(stacks)} weight files: validation accuracy {valid['accuracy']:.4f} "
        f"(512×512: {valid['full_resolution']['accuracy']:.4f}), F1 {valid['membrane_f1']:.3f}",
        flush=True,
    )
    report(spec.key, valid)
    return results


def reevaluate(arguments: argparse.Namespace) -> dict:
    """Evaluates the weights already in the output folder again and rewrites `valid` in their metrics."""
    spec = registry.get(arguments.model)
    output = arguments.output or settings.weights_dir()
    metrics_path = output / f"{spec.key}.metrics.json"
    previous = common.read_metrics(metrics_path)
    if not previous:
        raise ValueError(f"--evaluate: no metrics at {metrics_path} (train into that folder first)")
    model = architectures.build(spec.architecture, **network_arguments(spec, arguments))
    model.load_weights(output / spec.weights_file)
    soft = previous.get("labels") == membrane.LABEL_KINDS[True]
    valid_x, valid_y, valid_full_y = validation_slices(arguments.data_dir or membrane.folder(), spec.input_size[0], soft)
    results = {**previous, "valid": evaluate(model, valid_x, valid_y, valid_full_y, tta=True)}
    common.write_metrics(metrics_path, results)
    report(spec.key, results["valid"])
    return results


def report(key: str, valid: dict) -> None:
    """Prints the validation figures at 512×512, plain and with test-time augmentation."""
    for name, label in (("full_resolution", "plain"), ("full_resolution_tta", "8 flips/rotations")):
        if name in valid:
            figures = valid[name]
            print(
                f"{key} at 512x512, {label}: accuracy {figures['accuracy']:.4f}, membrane F1 {figures['membrane_f1']:.4f}, "
                f"pixel error {figures['pixel_error']:.4f}, Rand error {figures['rand_error']:.4f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> dict:
    arguments = parse_arguments(argv)
    if arguments.evaluate:
        return reevaluate(arguments)
    return average(arguments) if arguments.average else train(arguments)


if __name__ == "__main__":
    main()
