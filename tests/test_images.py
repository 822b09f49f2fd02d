"""Any input → one canonical array, or a clear ValueError."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segdemo import images


def test_uint8_grey_passes_through():
    array = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert np.array_equal(images.load(array), array)


def test_16_bit_is_scaled_not_clipped():
    array = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    assert images.load(array).tolist() == [[0, 100, 255]]


def test_float_in_unit_range_and_bool():
    assert images.load(np.array([[0.0, 0.5, 1.0]])).tolist() == [[0, 128, 255]]
    assert images.load(np.array([[False, True]])).tolist() == [[0, 255]]


def test_rgba_composited_on_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    result = images.load(rgba)
    assert result.shape == (2, 2, 3)
    assert result[0, 0].tolist() == [10, 20, 30]
    assert result[1, 1].tolist() == [255, 255, 255]


def test_pil_and_path_inputs(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    assert np.array_equal(images.load(path), rgb)
    assert np.array_equal(images.load(str(path)), rgb)
    assert np.array_equal(images.load(Image.fromarray(rgb)), rgb)


def test_16_bit_png_file(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 65535]], dtype=np.uint16)).save(path)
    assert images.load(path).tolist() == [[0, 255]]


def test_grey_conversion_keeps_grey_values():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(images.to_grey(images.to_rgb(grey)), grey)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.zeros((4, 4, 5), np.uint8), "shape"),
        (np.zeros((2, 2, 2, 2), np.uint8), "shape"),
        (np.array([[1.5]]), r"\[0, 1\]"),
        (np.array([[np.nan]]), "NaN"),
        (np.array([[-3]], dtype=np.int32), "negative"),
        (np.zeros((2, 2), np.complex64), "pixel type"),
        (None, "No image"),
        (42, "Unsupported image type"),
        ("/no/such/file.png", "No image file"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        images.load(bad)


def test_text_renamed_png_and_empty_file(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ValueError, match="not an image"):
        images.load(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        images.load(empty)


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        images.load(path)
