"""segdemo.maps and segdemo.curves on hand-made arrays whose answers are known, plus the
per-pixel classes and entropy of a real (random-weight) PSPNet read from its cached output."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from prerequisites import missing

from segdemo import curves, maps, palettes, render
from segdemo.output_cache import CachedOutput
from segdemo.pipelines import Dense

PALETTE = ((10, 20, 30), (200, 0, 0), (0, 200, 0))
CLASSES = ("zero", "one", "two")


def test_overlay_gives_render_overlays_pixels():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (37, 53, 3), np.uint8)
    labels = rng.integers(-1, 150, (37, 53)).astype(np.int32)
    for opacity in (0.0, 0.3, 0.55, 1.0):
        for skip in (False, True):
            expected = render.overlay(image, labels, palettes.ADE20K_PALETTE, opacity, skip_background=skip)
            assert np.array_equal(maps.overlay(image, labels, palettes.ADE20K_PALETTE, opacity, skip_background=skip), expected)


def test_overlay_in_strips_gives_the_whole_picture(monkeypatch):
    """Row strips that do not divide the height: every row painted once, as in one pass."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (41, 23, 3), np.uint8)
    labels = rng.integers(-1, 21, (41, 23)).astype(np.int32)
    expected = render.overlay(image, labels, palettes.ADE20K_PALETTE, 0.55)
    monkeypatch.setattr(maps, "OVERLAY_STRIP_ROWS", 8)
    assert np.array_equal(maps.overlay(image, labels, palettes.ADE20K_PALETTE, 0.55), expected)


def test_highlight_keeps_one_class_and_fades_the_others():
    image = np.full((1, 4, 3), 100, np.uint8)
    labels = np.array([[0, 1, 2, -1]])
    result = maps.overlay(image, labels, PALETTE, opacity=0.5, highlight=1, faded=0.2)
    assert result[0, 1].tolist() == [150, 50, 50]  # class 1 at 0.5: (100 + 200) / 2, 100 / 2
    assert result[0, 2].tolist() == [90, 110, 90]  # class 2 at 0.1: 0.9 * 100 + 0.1 * (0, 200, 0)
    assert result[0, 0].tolist() == [91, 92, 93]  # class 0 faded alike
    assert result[0, 3].tolist() == [100, 100, 100]  # unlabelled: the image
    with pytest.raises(ValueError, match="No class 3"):
        maps.overlay(image, labels, PALETTE, highlight=3)


def test_legend_entries_give_area_and_mean_confidence_largest_first():
    labels = np.array([[2, 2, 2], [1, -1, 2]])
    confidence = np.array([[0.9, 0.7, 0.5], [0.4, 0.1, 0.3]], np.float32)
    entries = maps.legend_entries(labels, confidence, CLASSES, PALETTE, names={"two": "dois"})
    assert [(e.index, e.name) for e in entries] == [(2, "dois"), (-1, "unlabelled"), (1, "one")]
    assert entries[0].fraction == pytest.approx(4 / 6)
    assert entries[0].mean_confidence == pytest.approx((0.9 + 0.7 + 0.5 + 0.3) / 4)
    assert entries[2].mean_confidence == pytest.approx(0.4) and entries[2].colour == (200, 0, 0)
    assert entries[2].hex == "#c80000"
    assert [e.index for e in maps.legend_entries(labels, None, CLASSES, PALETTE, skip=(-1,))] == [2, 1]
    with pytest.raises(ValueError, match="Labels must lie"):
        maps.legend_entries(np.array([[5]]), None, CLASSES, PALETTE)


def test_legend_counts_a_photo_larger_than_one_chunk_as_one_bincount_does(monkeypatch):
    """render.class_counts goes through large label maps a chunk at a time (0.04 s instead of 0.16 s
    for 12 MP); with chunks of 1000 pixels, a 150 × 70 map crosses 11 of them, the last one partial."""
    from segdemo import render

    rng = np.random.default_rng(0)
    labels = rng.integers(-1, len(CLASSES), size=(150, 70))
    labels[:7] = 1  # the first chunk holds fewer classes than the others (its bincount is shorter)
    confidence = rng.random((150, 70)).astype(np.float32)
    monkeypatch.setattr(render, "FRACTION_CHUNK", 1000)
    entries = maps.legend_entries(labels, confidence, CLASSES, PALETTE)
    counts = np.bincount(labels.ravel() + 1)
    sums = np.bincount(labels.ravel() + 1, weights=confidence.ravel())
    assert {e.index: e.fraction for e in entries} == pytest.approx({i - 1: c / labels.size for i, c in enumerate(counts)})
    assert {e.index: e.mean_confidence for e in entries} == pytest.approx(
        {i - 1: sums[i] / counts[i] for i in range(len(counts))}
    )
    with pytest.raises(ValueError, match="Labels must lie"):
        maps.legend_entries(np.array([[0, -2]]), None, CLASSES, PALETTE)


def test_error_map_counts_and_colours():
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    truth = np.array([[1, 0, 1, 0], [1, 0, 0, 0]])
    result = maps.error_map(labels, truth)
    assert result.counts == {"true positive": 2, "false positive": 1, "false negative": 1}
    assert tuple(result.image[0, 0]) == maps.ERROR_PALETTE[maps.TRUE_POSITIVE]
    assert tuple(result.image[0, 1]) == maps.ERROR_PALETTE[maps.FALSE_POSITIVE]
    assert tuple(result.image[0, 2]) == maps.ERROR_PALETTE[maps.FALSE_NEGATIVE]
    assert tuple(result.image[0, 3]) == (0, 0, 0)  # true negative, no base image: black
    assert [entry.fraction for entry in result.legend] == [2 / 8, 1 / 8, 1 / 8]
    with pytest.raises(ValueError, match="same height and width"):
        maps.error_map(labels, truth[:, :3])


def test_error_map_marks_wrong_boundary_pixels_of_a_membrane():
    truth = np.zeros((7, 7), np.uint8)
    truth[:, 3] = 1  # a one-pixel membrane down the middle
    labels = truth.copy()
    labels[0, 3] = 0  # missed on the membrane itself: on a boundary
    labels[3, 6] = 1  # a false membrane far from the true one: not on a boundary
    result = maps.error_map(labels, truth, base_rgb=np.full((7, 7, 3), 200, np.uint8), boundaries=True)
    assert result.counts["wrong on a boundary"] == 1
    assert tuple(result.image[0, 3]) == maps.ERROR_PALETTE[maps.BOUNDARY_ERROR]
    assert tuple(result.image[3, 6]) == maps.ERROR_PALETTE[maps.FALSE_POSITIVE]
    assert tuple(result.image[3, 0]) == (70, 70, 70)  # true negative: the image, dimmed
    assert maps.boundary_pixels(truth)[:, 2:5].all() and not maps.boundary_pixels(truth)[:, [0, 1, 5, 6]].any()


def test_confidence_maps():
    scores = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    assert maps.binary_confidence(scores, 0.5).tolist() == [1.0, 0.5, 0.0, 1.0]
    assert maps.binary_confidence(scores, 0.25) == pytest.approx([1 / 3, 0.0, 1 / 3, 1.0])
    with pytest.raises(ValueError):
        maps.binary_confidence(scores, 1.5)
    probabilities = np.array([[[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]], np.float32)
    assert maps.normalised_entropy(probabilities)[0] == pytest.approx([1.0, 0.0, 0.5], abs=1e-5)
    colours = maps.colour_scale(np.array([[0.0, 1.0]]))
    assert (
        colours.shape == (1, 2, 3) and colours[0, 0, 2] > colours[0, 0, 0] and colours[0, 1, 0] > colours[0, 1, 2]
    )  # viridis: blue, yellow


def test_disagreement():
    a = np.array([[0, 1], [1, 1]])
    b = np.array([[0, 1], [0, 1]])
    c = np.array([[1, 1], [1, 1]])
    assert maps.disagreement([a, b, c]).tolist() == [[True, False], [True, False]]
    image = maps.disagreement_image(maps.disagreement([a, b]))
    assert tuple(image[1, 0]) == maps.DISAGREEMENT_COLOUR and tuple(image[0, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match="at least two"):
        maps.disagreement([a])


def test_a_pixel_is_read_where_it_falls_in_the_network_output():
    # A 4×6 image over the top-left 2×3 pixels of a network output: two image pixels per output pixel.
    assert maps.network_position(0, 0, (4, 6), (2, 3)) == (-0.25, -0.25)
    assert maps.network_position(3, 1, (4, 6), (2, 3)) == (1.25, 0.25)
    with pytest.raises(ValueError, match="outside"):
        maps.network_position(6, 0, (4, 6), (2, 3))
    grid = np.zeros((2, 2, 3), np.float32)
    grid[0, 0] = (1, 0, 0)
    grid[0, 1] = (0, 1, 0)
    grid[1, 0] = (0, 0, 1)
    grid[1, 1] = (0, 0, 1)
    assert maps.probabilities_at(grid, 0.5, 0.0).tolist() == [0.5, 0.5, 0.0]
    assert maps.probabilities_at(grid, 0.25, 0.5) == pytest.approx([0.375, 0.125, 0.5])
    assert maps.probabilities_at(grid, 0.6, 0.4, bilinear=False).tolist() == [0.0, 1.0, 0.0]
    assert maps.top_classes(np.array([0.2, 0.5, 0.3]), CLASSES, k=2) == [("one", 0.5), ("two", pytest.approx(0.3))]


def test_binary_pixel_classes_from_a_cached_output():
    from segdemo import registry

    spec = registry.get("unet")
    scores = np.array([[0.9, 0.2]], np.float32)
    outputs = CachedOutput(
        raw=scores[None, ..., None], prepared_shape=(1, 1, 2, 1), image_size=(1, 2), valid=(1, 2), dense=Dense(scores, scores)
    )
    assert maps.pixel_classes(spec, None, outputs, 0, 0) == [("object", pytest.approx(0.9)), ("background", pytest.approx(0.1))]
    assert maps.pixel_classes(spec, None, outputs, 1, 0)[0][0] == "background"
    with pytest.raises(ValueError, match="outside"):
        maps.pixel_classes(spec, None, outputs, 2, 0)


def test_label_png_holds_class_indices():
    labels = np.array([[0, 149], [-1, 7]])
    decoded = np.asarray(Image.open(io.BytesIO(maps.label_png(labels))))
    assert decoded.dtype == np.uint8 and decoded.tolist() == [[0, 149], [255, 7]]
    with pytest.raises(ValueError, match="8-bit"):
        maps.label_png(np.array([[300]]))


def test_summary_json():
    class Result:  # the two things summary() reads of a Prediction
        def summary(self):
            return {
                "model": "pspnet_voc",
                "pipeline": "original",
                "class_fractions": {"dog": 0.25, "background": 0.75},
                "seconds": 2.5,
            }

    legend = [maps.LegendEntry(12, "dog", (64, 0, 128), 0.25, 0.8125)]
    parsed = json.loads(maps.summary_json(Result(), threshold=0.3, legend=legend))
    assert parsed["model"] == "pspnet_voc" and parsed["pipeline"] == "original" and parsed["seconds"] == 2.5
    assert parsed["class_fractions"] == {"dog": 0.25, "background": 0.75}
    assert parsed["threshold"] == 0.3 and parsed["mean_confidence"] == {"dog": 0.8125}


def test_curves_parse_and_gap():
    metrics = {
        "test": {"mse": 0.01, "iou": 0.9},
        "history": {"loss": [1.0, 0.1, 0.001, 0.002], "val_loss": [1.0, 0.1, 0.05, 0.2]},
    }
    parsed = curves.parse(metrics, "unet")
    assert parsed.loss == "mse" and parsed.epochs == 4 and parsed.best_epoch == 3
    assert parsed.figures == {"test MSE": 0.01, "test IoU": 0.9}
    gap = parsed.gap()
    assert gap["lowest_train"] == 0.001 and gap["best_valid"] == 0.05 and gap["ratio"] == pytest.approx(50)
    assert gap["decades"] == pytest.approx(math.log10(50))
    with pytest.raises(ValueError, match="positive, finite"):
        curves.parse({"history": {"loss": [0.1, -1.0], "val_loss": [0.1, 0.1]}}, "unet")
    assert curves.decade_label(-3) == "10⁻³" and curves.decade_label(0) == "1"


def test_committed_unet_curves_show_the_gap_on_a_log_plot():
    """The committed U-Net's history: its training loss ends more than a decade below validation."""
    unet = curves.load("unet")
    if unet is None:
        missing("weights/unet.metrics.json is not here")
    assert unet.gap()["decades"] > 1.0
    picture = curves.plot([unet], titles={"unet": "U-Net"})
    assert picture.shape == (400, 720, 3)
    colours = {tuple(pixel) for pixel in picture.reshape(-1, 3)}
    assert curves.TRAIN_COLOUR in colours and curves.VALID_COLOUR in colours
    assert curves.load("pspnet_voc") is None  # published weights: no training history here


@pytest.mark.slow
def test_pspnet_pixel_classes_and_entropy_from_the_cache(random_published, monkeypatch):
    """A random-weight PSPNet-50 in the published layout: the first class at a clicked pixel is
    the one the labels show there, for both pipelines, and no network runs for it."""
    from segdemo import registry, runtime
    from segdemo.predict import network_outputs

    spec = registry.get("pspnet_ade20k")
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(random_published(spec.key, 0)))
    runtime.clear()
    try:
        rng = np.random.default_rng(0)
        photo = rng.integers(0, 256, (90, 140, 3), np.uint8)
        for pipeline in ("original", "keras_segmentation"):
            outputs, _ = network_outputs(photo, spec, pipeline)
            calls = []
            loaded = runtime.get(spec.key, pipeline)
            original_raw = loaded.raw
            monkeypatch.setattr(loaded, "raw", lambda batch, calls=calls, run=original_raw: calls.append(1) or run(batch))
            agree = 0
            for x, y in ((0, 0), (139, 89), (70, 45), (13, 77), (101, 6)):
                top = maps.pixel_classes(spec, pipeline, outputs, x, y)
                assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
                agree += top[0][0] == spec.classes[outputs.dense.labels[y, x]]
            assert agree == 5
            entropy = maps.entropy_map(spec, pipeline, outputs)
            assert entropy.shape == photo.shape[:2] and 0.0 <= entropy.min() and entropy.max() <= 1.0
            assert calls == []  # only the tail ran: the network's raw output came from the cache
    finally:
        runtime.clear()


def test_class_fractions_counted_in_chunks_as_in_one_pass(monkeypatch):
    """Chunks that do not divide the pixels, unlabelled pixels and an absent class: the fractions
    of one bincount over the whole label map."""
    labels = np.random.default_rng(3).integers(-1, 3, (37, 29)).astype(np.int32)
    labels[labels == 1] = 2  # class "one" absent
    counts = np.bincount(labels.ravel() + 1, minlength=4)
    monkeypatch.setattr(render, "FRACTION_CHUNK", 100)
    fractions = render.class_fractions(labels, CLASSES)
    names = (render.UNLABELLED_NAME, *CLASSES)
    assert fractions == {names[i]: counts[i] / labels.size for i in np.argsort(-counts, kind="stable") if counts[i]}
    assert "one" not in fractions and list(fractions.values()) == sorted(fractions.values(), reverse=True)
