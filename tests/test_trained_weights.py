"""The committed weights keep what they reach today and meet the lecture's targets, recomputed here
(not read from the JSON).

Each shipped model has a guard a hair below its own figures of today (weights/<key>.metrics.json,
which these recompute exactly): a retrained model that does worse fails here even while it still
meets the lecture's target, which stays as a second, looser line where the lecture sets one.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image

import segdemo
from segdemo import architectures, metrics, pipelines, registry, weights
from segdemo.datasets import eliret, membrane
from train.eliret import large_image_pairs

# How far below today's figure a guard sits: a different CPU or TensorFlow build rounds a little
# differently (recomputed here the figures agree with the JSON to the last digit), a worse model
# misses by more.
MSE_MARGIN = 1.03  # at most 3 % above today's MSE
SCORE_MARGIN = 0.003  # IoU, accuracy, F1: at most 0.003 below today's

# eliret models: (test MSE, test IoU at 0.5) today; "large": IoU pooled over the 22 large images.
ELIRET_REACHED = {
    "fcn": {"mse": 0.01405, "iou": 0.9287},
    "fcn_aug": {"mse": 0.01060, "iou": 0.9499, "large": 0.9260},
    "fcn_skip": {"mse": 0.01286, "iou": 0.9372},
    "unet": {"mse": 0.004171, "iou": 0.9784},
    "unet_aug": {"mse": 0.006058, "iou": 0.9675, "large": 0.9081},
    "unet_strided": {"mse": 0.004113, "iou": 0.9807},
}
# The lecture's targets: test MSE for the plain networks, large-image IoU for the augmented ones.
LECTURE_TEST_MSE = {"fcn": 0.016, "unet": 0.0075}
LECTURE_LARGE_IOU = {"unet_aug": 0.90, "fcn_aug": 0.80}

# membrane models on slices 20-24 at the network's 128×128: pixel accuracy and membrane F1 today,
# with the slice's borders mirrored (0.9198 / 0.7944 and 0.8776 / 0.6728 with the lecture's zeros).
MEMBRANE_REACHED = {
    "membrane_unet": {"accuracy": 0.9227, "f1": 0.8007},
    "membrane_noskip": {"accuracy": 0.8804, "f1": 0.6855},
}
# The target for membrane_unet is 0.93. The committed network (32 base filters, 14 minutes
# of CPU training) reaches 0.920, where every variant tried levelled off (docs/training.md, "Membrane
# models"): this older line guarded what was reached before today's figures had their own guard.
MEMBRANE_VALID_ACCURACY_REACHED = 0.915


def _model(key):
    spec = registry.get(key)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    model.load_weights(weights.local_path(spec))
    return spec, model


@functools.cache
def _test_figures(key, eliret_dir) -> dict[str, float]:
    """Test-split MSE of the grey output and IoU of the output binarized at 0.5."""
    spec, model = _model(key)
    images, masks = eliret.load_split("test", eliret_dir)
    scores = np.clip(np.asarray(model(images, training=False)), 0, 1)
    return {"mse": metrics.mse(scores, masks), "iou": metrics.iou(scores >= 0.5, masks)}


def _test_mse(key, eliret_dir):
    return _test_figures(key, eliret_dir)["mse"]


def _large_iou(key, eliret_dir):
    spec, model = _model(key)
    predicted, truths = [], []
    for image, truth in large_image_pairs(eliret_dir):
        padded = pipelines.pad_to_multiple(image, spec.default_pipeline.size_multiple)
        scores = np.asarray(model(padded[None, ..., None], training=False))[0, : image.shape[0], : image.shape[1], 0]
        predicted.append((scores >= 0.5).ravel())
        truths.append(truth.ravel())
    return metrics.iou(np.concatenate(predicted), np.concatenate(truths))


@functools.cache
def _membrane_figures(key, membrane_dir) -> dict[str, float]:
    """Pixel accuracy and membrane F1 over slices 20-24 at the network's input size."""
    spec, model = _model(key)
    images, cells = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, spec.input_size[0])
    membrane_labels = 1.0 - np.asarray(model(images, training=False)) >= 0.5
    membrane_truth = cells < 0.5
    return {
        "accuracy": metrics.pixel_accuracy(membrane_labels, membrane_truth),
        "f1": metrics.f1(membrane_labels, membrane_truth),
    }


def test_every_shipped_model_has_a_guard_of_its_own():
    shipped = {key for key in registry.keys() if registry.get(key).published_weights is None}
    assert shipped == set(ELIRET_REACHED) | set(MEMBRANE_REACHED) | {"membrane_unet_256"}


@pytest.mark.parametrize("key", list(ELIRET_REACHED))
def test_eliret_models_keep_their_test_figures(key, eliret_dir):
    figures, reached = _test_figures(key, eliret_dir), ELIRET_REACHED[key]
    assert figures["mse"] <= reached["mse"] * MSE_MARGIN, figures
    assert figures["iou"] >= reached["iou"] - SCORE_MARGIN, figures
    if key in LECTURE_TEST_MSE:
        assert figures["mse"] <= LECTURE_TEST_MSE[key]


def test_unet_beats_fcn(eliret_dir):
    assert _test_mse("unet", eliret_dir) < _test_mse("fcn", eliret_dir)


@pytest.mark.parametrize("key", list(LECTURE_LARGE_IOU))
def test_augmented_models_segment_large_off_centre_images(key, eliret_dir):
    iou = _large_iou(key, eliret_dir)
    assert iou >= ELIRET_REACHED[key]["large"] - SCORE_MARGIN
    assert iou >= LECTURE_LARGE_IOU[key]


@pytest.mark.parametrize("key, twin", [("fcn_aug", "fcn"), ("unet_aug", "unet")])
def test_augmentation_costs_little_on_centred_images(key, twin, eliret_dir):
    assert _test_mse(key, eliret_dir) <= 1.5 * _test_mse(twin, eliret_dir)


def test_plain_fcn_fails_on_large_images_as_the_lecture_shows(eliret_dir):
    assert _large_iou("fcn", eliret_dir) < 0.5


@pytest.mark.parametrize("key", list(MEMBRANE_REACHED))
def test_membrane_models_keep_their_validation_figures(key, membrane_dir):
    figures, reached = _membrane_figures(key, membrane_dir), MEMBRANE_REACHED[key]
    assert figures["accuracy"] >= reached["accuracy"] - SCORE_MARGIN, figures
    assert figures["f1"] >= reached["f1"] - SCORE_MARGIN, figures
    if key == "membrane_unet":
        assert figures["accuracy"] >= MEMBRANE_VALID_ACCURACY_REACHED


def test_skips_matter_for_membranes(membrane_dir):
    with_skips, without = (_membrane_figures(key, membrane_dir) for key in ("membrane_unet", "membrane_noskip"))
    assert with_skips["accuracy"] > without["accuracy"]


# The lecture's exercise after program 7: the same U-Net at 256×256. Measured on slices 20-24 at
# 512×512 through predict() (resize to the network, run, resize back), with the borders mirrored
# (the U-Net paper's overlap-tile, docs/membranes.md): 0.9293, F1 0.8237, Rand error 0.218 for the
# committed 256 model, against 0.9168 for the 128 one. The same weights with the lecture's zero
# borders: 0.9273, F1 0.818, Rand 0.227 (0.9265 before the self-training stretch, 0.9246 before this
# issue): they fail these guards, as the weights before the retraining do.
# (weights/membrane_unet_256.metrics.json, docs/membranes.md). The 0.930 is not reached.
MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED = 0.929
MEMBRANE_256_FULL_RESOLUTION_F1_REACHED = 0.823
MEMBRANE_256_RAND_ERROR_REACHED = 0.225  # 0.218 measured; 0.227 with zero borders, 0.324 before the issue
# With test-time augmentation (8 flips/rotations averaged), borders mirrored: 0.9268, F1 0.8164, Rand
# 0.217 measured; with zero borders 0.9252, 0.8113, 0.223; 0.9219, 0.7998, 0.3034 before the issue.
MEMBRANE_256_TTA_REACHED = {"accuracy": 0.9265, "f1": 0.816, "rand_error": 0.22}


@functools.cache
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


@pytest.mark.slow
def test_membrane_unet_256_is_more_accurate_at_full_resolution(membrane_dir):
    accuracy, f1 = _full_resolution_figures("membrane_unet_256", membrane_dir)
    accuracy_128, f1_128 = _full_resolution_figures("membrane_unet", membrane_dir)
    assert accuracy >= MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED and accuracy > accuracy_128
    assert f1 >= MEMBRANE_256_FULL_RESOLUTION_F1_REACHED and f1 > f1_128


@pytest.mark.slow
def test_membrane_unet_256_challenge_measures(membrane_dir):
    accuracy, f1, rand_error = _challenge_figures("membrane_unet_256", membrane_dir)
    assert accuracy >= MEMBRANE_256_FULL_RESOLUTION_ACCURACY_REACHED and f1 >= MEMBRANE_256_FULL_RESOLUTION_F1_REACHED
    assert rand_error <= MEMBRANE_256_RAND_ERROR_REACHED


@pytest.mark.slow
def test_membrane_unet_256_with_test_time_augmentation(membrane_dir):
    accuracy, f1, rand_error = _challenge_figures("membrane_unet_256", membrane_dir, tta=True)
    assert accuracy >= MEMBRANE_256_TTA_REACHED["accuracy"] and f1 >= MEMBRANE_256_TTA_REACHED["f1"]
    assert rand_error <= MEMBRANE_256_TTA_REACHED["rand_error"]
