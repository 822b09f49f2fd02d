"""Where the membrane models go wrong on the validation slices, and how firm the labels are at
the network's 128×128: the figures behind "The 0.93 target is not reached" in docs/training.md.

Prints, per model, validation pixel accuracy (overall and per slice) at the network's size and
at 512×512 (scores resized back, as `predict()` does), the share of pixels that touch a class
boundary, the share of errors on such pixels, and predicted against true membrane fractions;
then how many 128×128 labels change when the 512×512 label is shifted by one pixel before the
reduction, and the best 512×512 accuracy a network at 128 or 256 could reach if it reproduced its
training labels exactly: binarized after the reduction, or as coverage fractions (`--soft-labels`).

First, per model, the figures of the README's membrane table, through `predict()` on slices 20–24
at 512×512, plain and with test-time augmentation (the mean over the 8 flips and 90° rotations):
pixel accuracy, membrane F1, and the ISBI-2012 challenge's own measures, pixel error and adapted
Rand error (cells as 4-connected regions, mean over the slices), with the seconds per slice.
The U-Net paper's Rand error, 0.0382, is on the challenge's hidden test slices: a reference, not
a comparison.

Usage: python -m bench.membrane_errors [--data-dir DIR] [--only-predict]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import segdemo
from segdemo import architectures, metrics, registry, weights
from segdemo.datasets import membrane

# The U-Net paper's adapted Rand error on the ISBI-2012 challenge's test slices (Ronneberger et al., 2015, table 1).
UNET_PAPER_RAND_ERROR = 0.0382


def boundary_pixels(cell_masks: np.ndarray) -> np.ndarray:
    """Pixels whose 3×3 neighbourhood holds both classes."""
    kernel = np.ones((3, 3), np.uint8)
    return np.stack([cv2.dilate(m, kernel) != cv2.erode(m, kernel) for m in cell_masks.astype(np.uint8)])


def reduced_labels(full_cell_masks: np.ndarray, size: int) -> np.ndarray:
    """512×512 labels reduced as `membrane.load_slices` does (area, then 0.5)."""
    return np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA) for m in full_cell_masks]) >= 0.5


def upsampled(maps: np.ndarray, size: int) -> np.ndarray:
    """(N, h, w) maps resized to size×size bilinearly, as `predict()` resizes the scores back."""
    return np.stack([cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR) for m in maps])


def through_predict(key: str, root: Path, tta: bool = False) -> dict:
    """Slices 20–24 at 512×512 through `predict(path, key, 0.5, tta=tta)`: pooled pixel accuracy,
    membrane F1, pixel error, mean adapted Rand error, and seconds per slice (model already loaded)."""
    segdemo.predict(root / "test" / "0.png", key, 0.5, tta=tta)  # load and trace outside the timing
    found, truths, rand_errors, seconds = [], [], [], []
    for index in membrane.VALID_SLICES:
        truth = membrane.read_slice(root / "train" / "label" / f"{index}.png") < 128  # membrane
        result = segdemo.predict(root / "train" / "image" / f"{index}.png", key, 0.5, tta=tta)
        labels = result.labels == 1
        found.append(labels)
        truths.append(truth)
        rand_errors.append(metrics.membrane_rand_error(labels, truth))
        seconds.append(result.seconds)
    found, truths = np.stack(found), np.stack(truths)
    return {
        "accuracy": metrics.pixel_accuracy(found, truths),
        "membrane_f1": metrics.f1(found, truths),
        "pixel_error": metrics.pixel_error(found, truths),
        "rand_error": float(np.mean(rand_errors)),
        "seconds_per_slice": float(np.mean(seconds)),
    }


def print_predict_figures(root: Path) -> None:
    print("slices 20-24 at 512x512 through predict() (the U-Net paper's Rand error on the challenge's test set: 0.0382):")
    for key in registry.keys("membrane"):
        for tta in (False, True):
            figures = through_predict(key, root, tta)
            print(
                f"  {key}{' + TTA (8 views)' if tta else ''}: accuracy {figures['accuracy']:.4f}, "
                f"membrane F1 {figures['membrane_f1']:.4f}, pixel error {figures['pixel_error']:.4f}, "
                f"Rand error {figures['rand_error']:.4f}, {figures['seconds_per_slice']:.2f} s per slice",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.membrane_errors", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, help="membrane folder (default: SEGDEMO_DATA_DIR/membrane, the cache, or a download)"
    )
    parser.add_argument("--only-predict", action="store_true", help="print only the figures through predict()")
    arguments = parser.parse_args(argv)
    root = arguments.data_dir or membrane.folder()
    print_predict_figures(root)
    if arguments.only_predict:
        return
    _, full_cells = membrane.load_slices(membrane.VALID_SLICES, root, None)

    for spec in (registry.get(key) for key in registry.keys("membrane")):
        size = spec.input_size[0]
        images, cells = membrane.load_slices(membrane.VALID_SLICES, root, size)
        model = architectures.build(spec.architecture, **spec.arch_kwargs)
        model.load_weights(weights.local_path(spec))
        scores = np.asarray(model(images, training=False))[..., 0]
        predicted_cells = scores >= 0.5
        truth = cells[..., 0] >= 0.5
        errors = predicted_cells != truth
        boundary = boundary_pixels(truth)
        per_slice = ", ".join(f"{index} {1 - e.mean():.3f}" for index, e in zip(membrane.VALID_SLICES, errors))
        print(f"{spec.key}: validation accuracy {1 - errors.mean():.4f} (slices {per_slice})")
        full_truth = full_cells[..., 0] >= 0.5
        full_accuracy = [(upsampled(scores[i : i + 1], 512)[0] >= 0.5) == full_truth[i] for i in range(len(scores))]
        per_slice_full = ", ".join(f"{index} {a.mean():.3f}" for index, a in zip(membrane.VALID_SLICES, full_accuracy))
        print(f"  at 512x512: {np.mean(full_accuracy):.4f} (slices {per_slice_full})")
        print(
            f"  boundary pixels {boundary.mean():.1%} of all, {(errors & boundary).sum() / errors.sum():.1%} of the errors; "
            f"membrane fraction predicted {1 - predicted_cells.mean():.3f}, true {1 - truth.mean():.3f}"
        )

    valid_full = full_cells[..., 0]
    for size in sorted({registry.get(key).input_size[0] for key in registry.keys("membrane")}):
        _, hard = membrane.load_slices(membrane.VALID_SLICES, root, size)
        _, soft = membrane.load_slices(membrane.VALID_SLICES, root, size, soft_masks=True)
        ceilings = [((upsampled(labels[..., 0], 512) >= 0.5) == (valid_full >= 0.5)).mean() for labels in (hard, soft)]
        print(
            f"labels at {size}x{size} resized back to 512x512: {ceilings[0]:.4f} accuracy binarized, "
            f"{ceilings[1]:.4f} as coverage fractions"
        )

    _, full_cells = membrane.load_slices(range(25), root, None)
    full_cells = full_cells[..., 0]
    size = registry.get("membrane_unet").input_size[0]
    labels = reduced_labels(full_cells, size)
    for shift in (1, 2):
        shifted = reduced_labels(np.roll(full_cells, shift, axis=2), size)
        changed = (shifted != labels)[:, :, 2:-2].mean()  # columns near the wrapped edge left out
        print(
            f"labels at {size}x{size} that change when the {full_cells.shape[1]}x{full_cells.shape[2]} label shifts {shift} px: {changed:.1%}"
        )


if __name__ == "__main__":
    main()
