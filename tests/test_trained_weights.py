"""The committed weights meet the lecture's targets, recomputed here (not read from the JSON)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import segdemo
from segdemo import architectures, metrics, pipelines, registry, weights
from segdemo.datasets import eliret, membrane
from train.eliret import large_image_pairs


def _model(key):
    spec = registry.get(key)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    model.load_weights(weights.local_path(spec))
    return spec, model


def _test_mse(key, eliret_dir):
    spec, model = _model(key)
    images, masks = eliret.load_split("test", eliret_dir)
    scores = np.clip(np.asarray(model(images, training=False)), 0, 1)
    return metrics.mse(scores, masks)


def _large_iou(key, eliret_dir):
    spec, model = _model(key)
    predicted, truths = [], []
    for image, truth in large_image_pairs(eliret_dir):
        padded = pipelines.pad_to_multiple(image, spec.default_pipeline.size_multiple)
        scores = np.asarray(model(padded[None, ..., None], training=False))[0, : image.shape[0], : image.shape[1], 0]
        predicted.append((scores >= 0.5).ravel())
        truths.append(truth.ravel())
    return metrics.iou(np.concatenate(predicted), np.concatenate(truths))


def test_fcn_meets_the_lecture_test_mse(eliret_dir):
    assert _test_mse("fcn", eliret_dir) <= 0.016


def test_unet_meets_its_target_and_beats_fcn(eliret_dir):
    unet = _test_mse("unet", eliret_dir)
    assert unet <= 0.0075
    assert unet < _test_mse("fcn", eliret_dir)


@pytest.mark.parametrize("key, target", [("unet_aug", 0.90), ("fcn_aug", 0.80)])
def test_augmented_models_segment_large_off_centre_images(key, target, eliret_dir):
    assert _large_iou(key, eliret_dir) >= target


@pytest.mark.parametrize("key, twin", [("fcn_aug", "fcn"), ("unet_aug", "unet")])
def test_augmentation_costs_little_on_centred_images(key, twin, eliret_dir):
    assert _test_mse(key, eliret_dir) <= 1.5 * _test_mse(twin, eliret_dir)


def test_plain_fcn_fails_on_large_images_as_the_lecture_shows(eliret_dir):
    assert _large_iou("fcn", eliret_dir) < 0.5


# The target is 0.93. The committed network (32 base filters, 14 minutes of CPU training)
# reaches 0.920 on slices 20-24, where every variant tried levelled off (README, "Membrane
# models"). This threshold guards what was reached; weights/membrane_unet.metrics.json has the rest.
MEMBRANE_VALID_ACCURACY_REACHED = 0.915


def test_membrane_unet_validation_accuracy(membrane_dir):
    spec, model = _model("membrane_unet")
    images, cells = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, spec.input_size[0])
    membrane_labels = 1.0 - np.asarray(model(images, training=False)) >= 0.5
    assert metrics.pixel_accuracy(membrane_labels, 1.0 - cells) >= MEMBRANE_VALID_ACCURACY_REACHED


def test_skips_matter_for_membranes(membrane_dir):
    accuracies = {}
    for key in ("membrane_unet", "membrane_noskip"):
        spec, model = _model(key)
        images, cells = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, spec.input_size[0])
        predicted = np.asarray(model(images, training=False))
        accuracies[key] = metrics.pixel_accuracy(predicted >= 0.5, cells)
    assert accuracies["membrane_unet"] > accuracies["membrane_noskip"]


# The lecture's exercise after program 7: the same U-Net at 256×256. Measured on slices 20-24 at
# 512×512 through predict() (resize to the network, run, resize back): 0.9269 for the committed
# 256 model (retrained with elastic deformations and intensity changes; 0.9246 before) against
# 0.9146 for the 128 one (weights/membrane_unet_256.metrics.json, docs/membranes.md). The issue's
# 0.930 is not reached; these guard what was, and the weights before the retraining fail them.
MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED = 0.926
MEMBRANE_256_FULL_RESOLUTION_F1_REACHED = 0.813  # 0.8158 measured (0.808 before); the 128 model: 0.786
# The challenge's adapted Rand error (mean over the slices): 0.232 measured, 0.324 before.
MEMBRANE_256_RAND_ERROR_REACHED = 0.25
# With test-time augmentation (8 flips/rotations averaged): 0.9244, F1 0.8070, Rand 0.285 measured;
# 0.9219, 0.7998, 0.3034 before.
MEMBRANE_256_TTA_REACHED = {"accuracy": 0.9235, "f1": 0.805, "rand_error": 0.295}


def _challenge_figures(key, membrane_dir, tta=False) -> tuple[float, float, float]:
    """Pixel accuracy, membrane F1 and mean adapted Rand error over slices 20-24 at 512×512,
    through predict() (with test-time augmentation when `tta`)."""
    counts = np.zeros(4, dtype=np.int64)  # true positives, false positives, false negatives, true negatives
    rand_errors = []
    for index in membrane.VALID_SLICES:
        truth = np.asarray(Image.open(membrane_dir / "train" / "label" / f"{index}.png").convert("L")) < 128
        found = segdemo.predict(membrane_dir / "train" / "image" / f"{index}.png", key, 0.5, tta=tta).labels == 1
        counts += [(found & truth).sum(), (found & ~truth).sum(), (~found & truth).sum(), (~found & ~truth).sum()]
        rand_errors.append(metrics.membrane_rand_error(found, truth))
    tp, fp, fn, tn = counts
    return (tp + tn) / counts.sum(), 2 * tp / (2 * tp + fp + fn), float(np.mean(rand_errors))


def _full_resolution_figures(key, membrane_dir) -> tuple[float, float]:
    """Pixel accuracy and membrane F1 over slices 20-24 at 512×512, through predict()."""
    return _challenge_figures(key, membrane_dir)[:2]


def test_membrane_unet_256_is_more_accurate_at_full_resolution(membrane_dir):
    accuracy, f1 = _full_resolution_figures("membrane_unet_256", membrane_dir)
    accuracy_128, f1_128 = _full_resolution_figures("membrane_unet", membrane_dir)
    assert accuracy >= MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED and accuracy > accuracy_128
    assert f1 >= MEMBRANE_256_FULL_RESOLUTION_F1_REACHED and f1 > f1_128


def test_membrane_unet_256_challenge_measures(membrane_dir):
    accuracy, f1, rand_error = _challenge_figures("membrane_unet_256", membrane_dir)
    assert accuracy >= MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED and f1 >= MEMBRANE_256_FULL_RESOLUTION_F1_REACHED
    assert rand_error <= MEMBRANE_256_RAND_ERROR_REACHED


def test_membrane_unet_256_with_test_time_augmentation(membrane_dir):
    accuracy, f1, rand_error = _challenge_figures("membrane_unet_256", membrane_dir, tta=True)
    assert accuracy >= MEMBRANE_256_TTA_REACHED["accuracy"] and f1 >= MEMBRANE_256_TTA_REACHED["f1"]
    assert rand_error <= MEMBRANE_256_TTA_REACHED["rand_error"]
