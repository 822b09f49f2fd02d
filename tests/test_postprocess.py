"""PSPNetPipeline.postprocess resizes only the classes that can win, and gives exactly what resizing
every class gave: the same labels and the same top probabilities, bit for bit.

The reference below is the implementation it replaced (every class's probabilities resized to the
photo, a group of 32 channels at a time, then the argmax), kept here as it was.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from segdemo import images, pipelines, registry, samples
from segdemo.pipelines import Dense, Prepared, PSPNetPipeline, pspnet_pipelines

CHANNEL_GROUP = 32


def reference_upsampled_argmax(probabilities: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The replaced implementation: bilinear resizing of every class, then argmax, 32 channels at a time."""
    best = np.full(size, -1.0, np.float32)
    labels = np.zeros(size, np.int32)
    for start in range(0, probabilities.shape[-1], CHANNEL_GROUP):
        group = np.ascontiguousarray(probabilities[..., start : start + CHANNEL_GROUP])
        resized = cv2.resize(group, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        if resized.ndim == 2:
            resized = resized[..., None]
        group_best = resized.max(axis=-1)
        better = group_best > best
        labels[better] = start + resized.argmax(axis=-1)[better]
        best[better] = group_best[better]
    return labels, best


def reference_postprocess(pipeline: PSPNetPipeline, raw: np.ndarray, prepared: Prepared) -> Dense:
    """The replaced `postprocess` of the "original" pipelines (probabilities resized before the argmax)."""
    probabilities = raw[0, : prepared.valid[0], : prepared.valid[1]]
    height, width = prepared.image_size
    work_scale = min(1.0, pipeline.max_probability_side / max(height, width))
    work_size = (max(1, round(height * work_scale)), max(1, round(width * work_scale)))
    labels, scores = reference_upsampled_argmax(probabilities, work_size)
    if work_size != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        scores = cv2.resize(scores, (width, height), interpolation=cv2.INTER_LINEAR)
    return Dense(scores=scores.astype(np.float32), grey=scores.astype(np.float32), labels=labels.astype(np.int32))


PIPELINE = pspnet_pipelines(50, 473)[0]
# Networks of up to 32 classes are resized in one call, the full way; with groups of 12 the shortcut
# runs for them too (and must still give the 32-channel groups' values).
SMALL_GROUPS = dataclasses.replace(PIPELINE, channel_group=12)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)


def _resized(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resizing of any number of channels (cv2 takes at most a few hundred at once)."""
    parts = [cv2.resize(np.ascontiguousarray(array[..., s : s + 32]), (width, height)) for s in range(0, array.shape[-1], 32)]
    return np.concatenate([part.reshape(height, width, -1) for part in parts], axis=-1)


def scene(rng, height: int, width: int, classes: int, regions: int, margin: float, noise: float) -> np.ndarray:
    """Probabilities like a network's: a few classes own blob-shaped regions (by `margin` in logits),
    over smooth noise, bilinearly enlarged from 1/8 resolution as PSPNet does."""
    small = (height // 8 + 2, width // 8 + 2)
    chosen = rng.choice(classes, regions, replace=False)
    blobs = _resized(rng.normal(0.0, 1.0, (4, 6, regions)).astype(np.float32), *small)
    logits = rng.normal(0.0, noise, (*small, classes)).astype(np.float32)
    logits[..., chosen] += margin * (blobs == blobs.max(axis=-1, keepdims=True))
    return _softmax(_resized(logits, height, width))


def assert_same(probabilities: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    expected_labels, expected_best = reference_upsampled_argmax(probabilities, size)
    # The reference resizes a last group of 1-4 classes on cv2's other code path: only groups of 32 give those values.
    odd_last_group = (probabilities.shape[-1] % CHANNEL_GROUP or CHANNEL_GROUP) < 5
    for pipeline in (PIPELINE,) if odd_last_group else (PIPELINE, SMALL_GROUPS):
        labels, best = pipeline._upsampled_argmax(probabilities, size)
        assert labels.dtype == np.int32 and labels.shape == size and best.shape == size
        mismatched = np.count_nonzero(labels != expected_labels)
        assert mismatched == 0, f"{mismatched} of {labels.size} labels differ (channel group {pipeline.channel_group})"
        np.testing.assert_array_equal(best, expected_best)
    return labels, best


SIZES = [(341, 512), (200, 333), (631, 95)]  # enlarged, reduced, enlarged one way and reduced the other


@pytest.mark.parametrize("classes", [150, 21, 19, 36, 33, 3])
@pytest.mark.parametrize("size", SIZES)
def test_same_as_resizing_every_class_on_network_like_maps(classes, size):
    rng = np.random.default_rng(classes * 1000 + size[0])
    for regions, margin, noise in ((3, 6.0, 1.0), (min(classes, 12), 3.0, 1.0), (min(classes, 8), 1.0, 0.5)):
        assert_same(scene(rng, 158, 237, classes, regions, margin, noise), size)


@pytest.mark.parametrize("classes", [150, 21])
def test_same_as_resizing_every_class_on_noise(classes):
    rng = np.random.default_rng(classes)
    for size in SIZES:
        assert_same(_softmax(rng.normal(0, 2, (60, 90, classes)).astype(np.float32)), size)
        # A little noise on a flat field: every pixel is a border pixel, with near-ties everywhere.
        assert_same(_softmax(rng.normal(0, 0.01, (60, 90, classes)).astype(np.float32)), size)


def test_ties_go_to_the_lower_class_as_before():
    """Blocks of probabilities on a coarse grid: classes tie exactly inside blocks and after resizing."""
    rng = np.random.default_rng(7)
    coarse = np.zeros((5, 8, 150), np.float32)
    coarse[..., [5, 17, 90]] = rng.integers(1, 4, (5, 8, 3)) / 8
    coarse[:2, :, 40] = 0.375
    blocks = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)
    labels, _ = assert_same(blocks, (300, 480))
    assert {5, 17, 90} <= set(np.unique(labels))


def test_a_class_that_is_never_on_top_can_win_between_two_others():
    """Stripes of classes 10 and 11 over a constant runner-up, class 100: between two stripes the two
    leaders average out below the runner-up, which wins there. Only the bound check finds it: class
    100 is the top class of no input pixel."""
    probabilities = np.full((30, 48, 150), 0.0005, np.float32)
    stripes = (np.arange(48) // 8) % 2 == 0
    probabilities[:, stripes, 10], probabilities[:, ~stripes, 11] = 0.5, 0.5
    probabilities[:, stripes, 11], probabilities[:, ~stripes, 10] = 0.0, 0.0
    probabilities[..., 100] = 0.44
    assert 100 not in np.argmax(probabilities, axis=-1)
    labels, _ = assert_same(probabilities, (300, 480))
    assert 100 in labels


@pytest.mark.slow
def test_postprocess_on_a_pspnet_output_matches_the_replaced_one():
    """A random-weight PSPNet-50 with 150 classes (a small input, so it builds and runs quickly) on a
    shipped photo, through `postprocess` and the replaced implementation."""
    import keras

    from segdemo.architectures.pspnet import build_pspnet

    spec = registry.get("pspnet_ade20k")
    pipeline = dataclasses.replace(spec.pipeline("original"), input_size=185)
    keras.utils.set_random_seed(3)
    model = build_pspnet(50, len(spec.classes), 185, **pipeline.network_options)
    for photo in samples.photos("pspnet_ade20k")[:2]:
        prepared = pipeline.preprocess(images.load(str(photo.image)))
        raw = np.asarray(model(prepared.batch, training=False))
        expected = reference_postprocess(pipeline, raw, prepared)
        dense = pipeline.postprocess(raw, prepared)
        assert dense.labels.shape == prepared.image_size
        np.testing.assert_array_equal(dense.labels, expected.labels)
        np.testing.assert_allclose(dense.scores, expected.scores, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(dense.scores, expected.scores)
        assert len(np.unique(dense.labels)) > 1


@pytest.mark.parametrize("rows_per_strip", [1, 7, 32, 1000])
def test_top_two_in_strips_matches_the_whole_map(rows_per_strip):
    """`_top_two` (strips of rows, no copy of the map) against the same three maps computed on the
    whole array at once, with ties between classes and a height that is no multiple of the strip."""
    rng = np.random.default_rng(3)
    probabilities = rng.integers(0, 5, (45, 23, 9)).astype(np.float32) / 4  # many ties
    top, first, second = pipelines._top_two(probabilities, rows_per_strip)
    whole_top = np.argmax(probabilities, axis=-1)
    others = probabilities.copy()
    np.put_along_axis(others, whole_top[..., None], -np.inf, axis=-1)
    np.testing.assert_array_equal(top, whole_top)  # ties: the lower class, as np.argmax
    np.testing.assert_array_equal(first, probabilities.max(axis=-1))
    np.testing.assert_array_equal(second, others.max(axis=-1))


def test_the_tail_output_is_freed_before_the_maps_are_enlarged():
    """`predict` calls `postprocess(tail(raw), prepared)`: the tail's full-size probabilities (ADE20K's
    150 classes at 473×473, 134 MB) are freed before the labels and scores are enlarged to a 12 MP
    photo (96 MB). The peak is measured against the same call with the caller keeping a reference.
    (A smaller working size and groups of 8 classes keep the argmax's own maps below the enlarged ones.)"""
    import tracemalloc

    from segdemo import tail as numpy_tail

    pipeline = dataclasses.replace(registry.get("pspnet_ade20k").pipeline("original"), channel_group=8, max_probability_side=512)
    side = pipeline.input_size
    raw = np.random.default_rng(5).normal(0, 8, (1, 60, 60, 150)).astype(np.float32)
    raw = np.repeat(np.repeat(raw[:, ::20, ::20], 20, axis=1), 20, axis=2)  # regions, as trained networks give

    def network_tail(scores):
        return numpy_tail.softmax_in_place(numpy_tail.bilinear_resize(scores, (side, side), align_corners=True))

    prepared = Prepared(np.zeros((1, side, side, 3), np.float32), (3000, 4000), (355, side))
    peaks, results = [], []
    for kept in (True, False):
        tracemalloc.start()
        if kept:
            probabilities = network_tail(raw)
            results.append(pipeline.postprocess(probabilities, prepared))
            del probabilities
        else:
            results.append(pipeline.postprocess(network_tail(raw), prepared))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    np.testing.assert_array_equal(results[1].labels, results[0].labels)
    np.testing.assert_array_equal(results[1].scores, results[0].scores)
    enlarged = results[0].labels.nbytes + results[0].scores.nbytes
    assert peaks[1] <= peaks[0] - 0.5 * enlarged, [peak / 2**20 for peak in peaks]
