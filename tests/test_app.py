"""End to end: start the real app on a free port and call it with gradio_client."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app_server import AppDidNotStart, running_app


@pytest.fixture(scope="module")
def app_url(data_dir, tmp_path_factory):
    try:
        with running_app(tmp_path_factory.mktemp("app") / "app.log") as app:
            yield app.url
    except AppDidNotStart as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_predict_endpoint_returns_a_png_overlay_and_a_summary(client, eliret_dir):
    overlay_path, summary = client.predict(handle_file(str(eliret_dir / "maior1x.png")), "unet_aug", 0.5, api_name="/predict")
    assert Path(overlay_path).suffix == ".png"
    with Image.open(overlay_path) as overlay:
        assert overlay.format == "PNG" and overlay.size == (88, 72)
    assert summary["model"] == "unet_aug"
    assert set(summary["class_fractions"]) <= {"background", "object"}
    assert 0.05 < summary["class_fractions"]["object"] < 0.2  # maior1: four objects, 9.8 % of the pixels
    assert summary["seconds"] > 0


def test_compare_endpoint_scores_against_the_truth(client, eliret_dir):
    figure_path, table = client.predict(
        handle_file(str(eliret_dir / "075x.png")),
        handle_file(str(eliret_dir / "075y.png")),
        ["fcn", "unet"],
        0.5,
        api_name="/compare",
    )
    with Image.open(figure_path) as figure:
        assert figure.format == "PNG"
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == {"FCN", "U-Net"}
    assert all(0.0 <= rows[name][1] <= 0.05 and rows[name][2] >= 0.8 for name in rows)


def test_bad_input_gets_our_message_and_the_app_keeps_serving(client, tmp_path, eliret_dir):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(fake)), "unet", 0.5, api_name="/predict")
    assert "image" in str(error.value).lower()
    with pytest.raises(Exception, match="no_such_model is not in the list of choices"):
        client.predict(handle_file(str(eliret_dir / "075x.png")), "no_such_model", 0.5, api_name="/predict")
    _, summary = client.predict(handle_file(str(eliret_dir / "075x.png")), "fcn", 0.5, api_name="/predict")
    assert summary["model"] == "fcn"


def test_uploaded_colour_photo_works_with_a_grey_model(client, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)).save(photo)
    overlay_path, summary = client.predict(handle_file(str(photo)), "fcn", 0.5, api_name="/predict")
    assert (summary["height"], summary["width"]) == (120, 90)


def test_health_endpoint_reports_models_and_weights(app_url):
    import json

    with urllib.request.urlopen(app_url + "health", timeout=10) as response:
        report = json.loads(response.read())
    assert report["status"] == "ok"
    assert report["models"]["fcn"]["weights"] == "present"
    # The published PSPNet files are not in the repository: the report says so, nothing is fetched.
    assert report["models"]["pspnet_voc"]["weights"] in ("downloadable", "present")
    assert set(report["models"]) == set(__import__("segdemo").MODEL_KEYS)


def test_weights_folder_is_not_served(app_url):
    for path in ("file=weights/fcn.weights.h5", "gradio_api/file=weights/fcn.weights.h5"):
        try:
            with urllib.request.urlopen(app_url + path, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (403, 404), path


def test_photo_tab_explains_missing_pspnet_weights(client, tmp_path):
    photo = tmp_path / "street.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    gallery, table = client.predict(
        handle_file(str(photo)), ["pspnet_voc"], "original", 0.0, 0.5, api_name="/photos"
    )
    # This machine cannot reach the published files: the answer names the file instead of failing.
    assert gallery == []
    assert table["data"][0][0] == "PSPNet-101 (Pascal VOC 2012)"
    assert "pspnet101_voc2012.h5" in table["data"][0][2]


def test_augmentation_preview_right_after_start(tmp_path):
    """The preview imports TensorFlow while the start-up warm-up is importing it too (two
    threads importing TensorFlow at once once broke the app's first request)."""
    with running_app(tmp_path / "app.log") as app:
        figure_path, next_seed = Client(app.url, verbose=False).predict("eliret", 3, api_name="/augmentation_preview")
        assert "Traceback" not in app.log_tail(20000)
    with Image.open(figure_path) as figure:
        assert figure.format == "PNG" and figure.size[0] > 400
    assert next_seed == 4
