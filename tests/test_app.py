"""End to end: start the real app on a free port and call it with gradio_client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(data_dir, tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


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
