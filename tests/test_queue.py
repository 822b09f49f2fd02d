"""A student whose photo waits behind others' sees their place in the queue and an estimate.

The photo tab's event (API `/photos`) runs in the one inference queue. Driven through the real app
(the session's shared `pspnet_app`) and gradio_client, with a random-weight PSPNet-50 in the
published layout (the real file is not here; random weights cost the same time): requests sent
together wait in turn, and the waiting ones are told their rank and an ETA. The page shows that status on a component that is visible
while the student waits (Gradio draws it on the event's outputs unless told otherwise).
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import wait

import pytest
from app_server import SEEDED_PSPNETS, health
from gradio_client import Client, handle_file
from gradio_client.utils import Status
from PIL import Image
from prerequisites import missing

from segdemo import samples

pytestmark = pytest.mark.slow
MODEL = "pspnet_ade20k"  # PSPNet-50: the cheapest network to write and run


@pytest.fixture(scope="module")
def app(pspnet_app):
    """The session's shared app with random-weight PSPNets (conftest), MODEL among them."""
    assert MODEL in SEEDED_PSPNETS
    return pspnet_app


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Four different photos (the app caches outputs per photo, so a repeated one would not wait)."""
    folder = tmp_path_factory.mktemp("photos")
    shipped = [photo.image for photo in samples.photos(MODEL)] or []
    if len(shipped) < 2:
        missing("the shipped photos are missing")
    paths = []
    for index in range(4):
        with Image.open(shipped[index % len(shipped)]) as image:
            image = image.convert("RGB").resize((480 + 16 * index, 320))  # a different photo each time
            paths.append(folder / f"photo{index}.jpg")
            image.save(paths[-1])
    return paths


def _submit(client: Client, path):
    return client.submit(handle_file(str(path)), [MODEL], "original", 0.0, 0.55, api_name="/photos")


def test_waiting_requests_see_their_rank_and_an_eta(app, photos):
    client = Client(app.url, verbose=False, download_files=False)
    # One request first: it loads the network, and Gradio's ETA needs one finished run to estimate from.
    gallery, table = _submit(client, photos[0]).result(timeout=600)
    assert gallery, "the warm-up request got no overlay"
    # The table says what computed it: the tests' servers run TensorFlow float32 (tests/conftest.py).
    assert table["data"][0][-1] == "TensorFlow float32"
    jobs = [_submit(client, path) for path in photos[1:]]
    seen: list[tuple[int, float | None]] = []
    deadline = time.monotonic() + 300
    while not all(job.done() for job in jobs) and time.monotonic() < deadline:
        for job in jobs:
            status = job.status()
            if status.code == Status.IN_QUEUE and status.rank is not None:
                seen.append((status.rank, status.eta))
        time.sleep(0.05)
    wait(jobs, timeout=60)
    assert all(job.result()[0] for job in jobs), "a queued request got no overlay"
    # Three sent together: one runs, the others wait; the last in line has one request before it.
    assert max((rank for rank, _ in seen), default=-1) >= 1, f"no request saw a queue position behind another: {seen[:20]}"
    etas = [eta for rank, eta in seen if rank >= 1 and eta is not None]
    assert etas and min(etas) > 0, f"the waiting requests got no ETA: {seen[:20]}"


def test_the_photo_tab_shows_the_queue_status_where_the_student_looks(app):
    """Gradio draws rank and ETA on the components named by the event's show_progress_on, or on its
    outputs; at least one of them must be visible before the first result (the gallery and the table
    only appear with it)."""
    with urllib.request.urlopen(app.url + "config", timeout=30) as response:
        config = json.load(response)
    visible = {
        component["id"]: component.get("props", {}).get("visible", True) is not False for component in config["components"]
    }
    event = next(dependency for dependency in config["dependencies"] if dependency.get("api_name") == "photos")
    assert event.get("show_progress", "full") != "hidden"
    shown_on = event.get("show_progress_on") or event["outputs"]
    assert any(visible[component] for component in shown_on), f"the queue status is drawn only on hidden components {shown_on}"


def _cache_misses(app) -> int:
    return health(app.url)["output_cache"]["misses"]


def test_the_views_a_browser_asks_next_come_from_the_cache_at_display_size(app, tmp_path):
    """What the page asks once /photos has answered (/photo_views): no network runs again, the
    before/after slider's pictures are at most SLIDER_SIDE wide, the downloads keep the full size."""
    from ui.tabs.photos import SLIDER_SIDE

    shipped = samples.photos(MODEL)[0].image
    photo = tmp_path / "large.jpg"
    with Image.open(shipped) as image:
        image.convert("RGB").resize((2400, 1600)).save(photo)
    client = Client(app.url, verbose=False, download_files=str(tmp_path / "downloads"))
    client.predict(handle_file(str(photo)), [MODEL], "original", 0.0, 0.55, api_name="/photos")
    misses = _cache_misses(app)
    outputs = client.predict(handle_file(str(photo)), [MODEL], "original", 0.0, 0.55, "overlay", MODEL, api_name="/photo_views")
    assert _cache_misses(app) == misses  # drawn from the kept outputs: no network ran
    slider = next(output for output in outputs if isinstance(output, (list, tuple)) and len(output) == 2)
    for picture in slider:
        with Image.open(picture) as shown:
            assert max(shown.size) == SLIDER_SIDE, shown.size
    files = [str(output.get("value")) for output in outputs if isinstance(output, dict) and output.get("value")]
    overlay_download = next(path for path in files if path.endswith("_overlay.jpg"))
    with Image.open(overlay_download) as full:
        assert full.size == (2400, 1600)


def test_a_class_leaves_no_result_files_older_than_an_hour(tmp_path, monkeypatch):
    """Every student's pictures and download folder go to the output folder; what is older than
    OUTPUT_MAX_AGE_S goes when the next result is written, files and folders alike."""
    import os

    import numpy as np

    from ui import common

    monkeypatch.setattr(common, "OUTPUT_FOLDER", tmp_path / "outputs")
    monkeypatch.setattr(common, "_last_pruned", None)  # no scan yet in this process
    (tmp_path / "outputs").mkdir()
    old_folder, new_folder = tmp_path / "outputs" / "old-downloads", tmp_path / "outputs" / "new-downloads"
    for folder in (old_folder, new_folder):
        folder.mkdir()
        (folder / "labels.png").write_bytes(b"png")
    old_file = tmp_path / "outputs" / "old.jpg"
    old_file.write_bytes(b"jpeg")
    long_ago = time.time() - common.OUTPUT_MAX_AGE_S - 60
    for path in (old_folder, old_file):
        os.utime(path, (long_ago, long_ago))
    written = common.jpeg_file(np.full((8, 8, 3), 200, np.uint8))
    assert not old_folder.exists() and not old_file.exists()
    assert new_folder.is_dir() and (new_folder / "labels.png").is_file()
    with Image.open(written) as picture:
        assert picture.format == "JPEG" and picture.size == (8, 8)
    # The folder is scanned at most once a minute, not for every file: an old file found within the
    # minute stays until the next scan.
    old_file.write_bytes(b"jpeg")
    os.utime(old_file, (long_ago, long_ago))
    common.png_file(np.zeros((8, 8), np.uint8))
    assert old_file.exists()
    monkeypatch.setattr(common, "_last_pruned", time.monotonic() - common.OUTPUT_PRUNE_INTERVAL_S - 1)
    common.png_file(np.zeros((8, 8), np.uint8))
    assert not old_file.exists()
