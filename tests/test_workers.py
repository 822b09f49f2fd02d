"""Two inference workers (SEGDEMO_WORKERS=2) on this 2-core machine: requests really run two at a
time (the server counts the networks running at once: /health's networks_running), none fails, and
every answer is the one a single worker gives.

Driven through the real app and gradio_client's `/photos` with the random-weight PSPNet-50 of the
session's shared `pspnet_app` (conftest), which runs one worker: distinct photos sent together
(the app caches outputs per photo, so a repeated one would not run the network) to it, then to an
app started here with two workers that serves the same weights file from the same cache folder
(its Keras 3 conversion is made once). Both apps run TensorFlow float32 with the same thread pools
(segdemo.cpu.thread_counts), so the answers must be equal to the last pixel.
"""

from __future__ import annotations

import os
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest
from app_server import health, running_app, wait_for_warm_up
from gradio_client import Client, handle_file
from PIL import Image

from segdemo import registry, samples

pytestmark = pytest.mark.slow
MODEL = "pspnet_ade20k"  # PSPNet-50: the cheapest network to run
PHOTOS = 4  # two per worker: enough for two networks to run at once, and answers to compare


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
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


def without_seconds(table: dict) -> list:
    """The table's rows without their second column, the seconds each network took (a time, not a result)."""
    return [[cell for index, cell in enumerate(row) if index != 1] for row in table["data"]]


def burst(app, folder: Path, name: str, load_first: bool) -> list:
    """Sends every photo at once to the running `app`; returns the answers (overlay pixels and
    table, in the photos' order). With `load_first`, one request before them loads the network."""
    # A long read timeout: this machine's cores are shared.
    client = Client(
        app.url, verbose=False, max_workers=PHOTOS + 4, download_files=str(folder / name), httpx_kwargs={"timeout": 300}
    )
    if load_first:  # a small grey photo, not among those compared
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
    return answers


def test_two_workers_answer_like_one(folder, pspnet_app, pspnet_app_folder):
    # The two-worker app serves the same file as the shared one (a hard link; only MODEL, so that its
    # warm-up runs the small models alone) from the same cache folder, where its Keras 3 conversion is.
    weights = folder / "weights"
    weights.mkdir()
    file = registry.get(MODEL).weights_file
    os.link(pspnet_app_folder / "published" / file, weights / file)
    env = {
        "SEGDEMO_WEIGHTS_DIR": str(weights),
        "SEGDEMO_CACHE_DIR": str(pspnet_app_folder / "cache"),
        "SEGDEMO_WORKERS": "2",
        "GRADIO_EXAMPLES_CACHE": str(folder / "examples"),
    }
    with running_app(folder / "app2.log", env=env) as app:
        # While its warm-up runs, the shared app answers: it has finished its own warm-up (conftest),
        # so only requests, through its one-worker queue, ran networks in it, this burst among them.
        # One at a time, the first request may as well load the network (other tests may have already).
        assert health(pspnet_app.url)["workers"] == 1
        one = burst(pspnet_app, folder, "downloads1", load_first=False)
        running_one = health(pspnet_app.url)["networks_running"]["peak"]
        # The two-worker app's warm-up has run the small models one after another: from now on only
        # this test's requests run networks in it. They run it, not load it, together.
        assert wait_for_warm_up(app)["workers"] == 2
        assert health(app.url)["networks_running"]["peak"] == 1
        two = burst(app, folder, "downloads2", load_first=True)
        # The server counts the networks running at once (segdemo.runtime.networks_running).
        running_two = health(app.url)["networks_running"]["peak"]
    assert running_one == 1, f"one worker ran {running_one} networks at once"
    assert running_two == 2, f"two workers never ran two networks at once (at most {running_two})"
    for index, ((overlays_one, table_one), (overlays_two, table_two)) in enumerate(zip(one, two)):
        assert table_one == table_two, f"photo {index}: the tables differ"
        assert len(overlays_one) == len(overlays_two)
        for first, second in zip(overlays_one, overlays_two):
            assert np.array_equal(first, second), f"photo {index}: the overlays differ"
