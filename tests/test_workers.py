"""Two inference workers (SEGDEMO_WORKERS=2) on this 2-core machine: requests really run two at a
time (the server counts the networks running at once: /health's networks_running), none fails, and
every answer is the one a single worker gives.

Driven through the real app and gradio_client's `/photos` with a random-weight PSPNet-50 in the
published layout (as tests/test_queue.py): distinct photos sent together (the app caches outputs per
photo, so a repeated one would not run the network), once with one worker and once with two; the
two apps share a cache folder, so the Keras 3 conversion of the weights is made once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest
from app_server import running_app
from gradio_client import Client, handle_file
from PIL import Image

from bench.burst import write_weights
from segdemo import registry, samples

pytestmark = pytest.mark.slow
MODEL = "pspnet_ade20k"  # PSPNet-50: the cheapest network to write and run
PHOTOS = 6


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    (folder / "weights").mkdir()
    write_weights(MODEL, folder / "weights")
    shipped = [photo.image for photo in samples.photos(MODEL)]
    if not shipped:
        pytest.skip("the shipped photos are missing")
    for index in range(PHOTOS):
        with Image.open(shipped[index % len(shipped)]) as image:
            # A different photo each time, small: the network's input is 473×473 whatever the photo.
            image.convert("RGB").resize((320 + 16 * index, 240)).save(folder / f"photo{index}.jpg")
    return folder


def _pixels(value) -> list[np.ndarray]:
    """Every image file named in a gradio_client answer (a gallery's items, an image), as arrays."""
    if isinstance(value, dict):
        return [array for item in value.values() for array in _pixels(item)]
    if isinstance(value, (list, tuple)):
        return [array for item in value for array in _pixels(item)]
    if isinstance(value, str) and Path(value).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and Path(value).is_file():
        with Image.open(value) as image:
            return [np.asarray(image.convert("RGB"))]
    return []


def health(url: str) -> dict:
    """The app's /health (added just after the server starts: asked again for a few seconds)."""
    for _ in range(60):
        try:
            with urllib.request.urlopen(url + "health", timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError:
            time.sleep(0.5)
    raise AssertionError("the app has no /health")


def without_seconds(table: dict) -> list:
    """The table's rows without their second column, the seconds each network took (a time, not a result)."""
    return [[cell for index, cell in enumerate(row) if index != 1] for row in table["data"]]


def burst(folder: Path, workers: int) -> tuple[list, int]:
    """Sends every photo at once to an app with `workers` workers; returns the answers (overlay
    pixels and table, in the photos' order) and the most networks that ran at the same time."""
    env = {
        "SEGDEMO_WEIGHTS_DIR": str(folder / "weights"),
        "SEGDEMO_CACHE_DIR": str(folder / "cache"),
        "SEGDEMO_WORKERS": str(workers),
    }
    with running_app(folder / f"app{workers}.log", env=env) as app:
        # A long read timeout: at start-up the app imports TensorFlow, and this machine's cores are shared.
        downloads = str(folder / f"downloads{workers}")
        client = Client(app.url, verbose=False, max_workers=PHOTOS + 4, download_files=downloads, httpx_kwargs={"timeout": 300})
        # The start-up warm-up runs the small models: wait for it, so that only this test's requests run networks.
        deadline = time.monotonic() + 600
        while not all(health(app.url)["models"][key]["loaded"] for key in registry.keys("eliret")):
            assert time.monotonic() < deadline, f"the warm-up did not finish; the app's log:\n{app.log_tail()}"
            time.sleep(1)
        # One request first loads the network (a small grey photo, not among those compared).
        tiny = folder / "tiny.jpg"
        Image.new("RGB", (64, 48), "gray").save(tiny)
        client.submit(handle_file(str(tiny)), [MODEL], "original", 0.0, 0.55, api_name="/photos").result(timeout=900)
        jobs = [
            client.submit(handle_file(str(folder / f"photo{index}.jpg")), [MODEL], "original", 0.0, 0.55, api_name="/photos")
            for index in range(PHOTOS)
        ]
        wait(jobs, timeout=900)
        answers = []
        for job in jobs:
            gallery, table = job.result(timeout=0)  # raises if the request failed
            overlays = _pixels(gallery)
            assert overlays, f"no overlay in the answer; the app's log:\n{app.log_tail()}"
            answers.append((overlays, without_seconds(table)))
        # The server counts the networks running at once (segdemo.runtime.networks_running).
        return answers, health(app.url)["networks_running"]["peak"]


def test_two_workers_answer_like_one(folder):
    one, running_one = burst(folder, 1)
    two, running_two = burst(folder, 2)
    assert running_one == 1, f"one worker ran {running_one} networks at once"
    assert running_two == 2, f"two workers never ran two networks at once (at most {running_two})"
    for index, ((overlays_one, table_one), (overlays_two, table_two)) in enumerate(zip(one, two)):
        assert table_one == table_two, f"photo {index}: the tables differ"
        assert len(overlays_one) == len(overlays_two)
        for first, second in zip(overlays_one, overlays_two):
            assert np.array_equal(first, second), f"photo {index}: the overlays differ"
