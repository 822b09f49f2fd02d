"""Interactive results in a real browser (Debian's Chromium, Playwright): two PSPNets side by side
with live legends, a legend click that highlights, a threshold move that re-renders without a
network run (the output cache's misses in /health stay put), a download, and the error map of a
comparison with a ground truth.

The PSPNets have random weights written in the published layout into a temporary weights folder
(the published files cannot be downloaded here); what is tested does not depend on the values.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from app_server import SEEDED_PSPNETS as PSPNETS
from app_server import health
from browser_helpers import block_around, block_of, opened_page
from PIL import Image
from playwright.sync_api import Page, expect

from segdemo import registry

RESULT_TIMEOUT_MS = 600_000  # two full-size PSPNets load and run on a busy 2-core CPU

pytestmark = pytest.mark.slow


@pytest.fixture()
def app_url(pspnet_app):
    """The shared app with the random-weight PSPNets (conftest)."""
    return pspnet_app.url


@pytest.fixture()
def page(browser, app_url):
    with opened_page(browser, app_url, viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True) as page:
        yield page


def output_cache(app_url: str) -> dict:
    return health(app_url)["output_cache"]


def screenshot(page: Page, name: str, tmp_path: Path, element=None) -> None:
    """A screenshot, copied to $SEGDEMO_SCREENSHOT_DIR when set (the README's pictures)."""
    path = tmp_path / name
    (element or page).screenshot(path=str(path))
    if os.environ.get("SEGDEMO_SCREENSHOT_DIR"):
        Path(os.environ["SEGDEMO_SCREENSHOT_DIR"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["SEGDEMO_SCREENSHOT_DIR"]) / name)


def street_photo(path: Path) -> Path:
    """A 320×214 'street': sky, buildings, road, with noise."""
    rng = np.random.default_rng(5)
    image = np.zeros((214, 320, 3), np.int16)
    image[:70] = (120, 170, 230)
    image[70:140] = (150, 120, 100)
    image[140:] = (90, 90, 95)
    image[90:130, 40:110] = (200, 30, 30)
    Image.fromarray(np.clip(image + rng.integers(-25, 25, image.shape), 0, 255).astype(np.uint8)).save(path)
    return path


def legend_items(page: Page, key: str):
    return page.locator(f"#sd-view-{key} .legend-item")


def test_two_pspnets_side_by_side_highlight_rerender_and_download(page, app_url, tmp_path):
    page.get_by_role("tab", name="4 · PSPNet on photos").click()
    photo = street_photo(tmp_path / "street.png")
    # The photo tab's upload: the file input inside the block labelled "Your photo".
    block_of(page, "Your photo").locator("input[type=file]").set_input_files(str(photo))
    models = page.get_by_role("group").filter(has=page.get_by_role("checkbox", name=registry.get("pspnet_voc").title, exact=True))
    for key in PSPNETS:
        models.get_by_role("checkbox", name=registry.get(key).title, exact=True).check()
    page.get_by_role("button", name="Segment", exact=True).click()

    for key in PSPNETS:
        expect(legend_items(page, key).first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    # Side by side on a laptop: one row, the VOC view left of the ADE20K view.
    voc, ade = (page.locator(f"#sd-view-{key}").bounding_box() for key in PSPNETS)
    assert abs(voc["y"] - ade["y"]) < 5 and voc["x"] + voc["width"] <= ade["x"] + 1
    # Each legend entry: a name, its area % and its mean confidence.
    first_entry = legend_items(page, "pspnet_ade20k").first.inner_text()
    assert re.search(r"\d+\.\d % · conf\. 0\.\d\d", first_entry), first_entry
    screenshot(page, "results_photos.png", tmp_path, page.locator("#sd-photos-results"))

    # A legend click highlights that class: its mask stays, the others fade out. One mask per
    # legend entry; the street photo gets several classes, so there is another mask to fade.
    entries = legend_items(page, "pspnet_ade20k").count()
    assert entries >= 2, f"the ADE20K view lists {entries} class(es): no other mask to fade"
    masks = page.locator("#sd-view-pspnet_ade20k img.mask")
    expect(masks).to_have_count(entries)
    legend_items(page, "pspnet_ade20k").nth(0).click()
    expect(masks.nth(0)).to_have_class(re.compile(r"\bactive\b"))
    expect(masks.nth(1)).to_have_class(re.compile(r"\binactive\b"))
    expect(masks.nth(1)).to_have_css("opacity", "0")  # faded out (after a 0.2 s transition)

    # A threshold move re-renders from the cache: no new network run.
    before = output_cache(app_url)
    legend_before = legend_items(page, "pspnet_ade20k").all_inner_texts()
    number = page.get_by_label("number input for Leave a pixel unlabelled when its class probability is below")
    number.fill("0.9")
    number.press("Enter")
    number.blur()
    deadline = time.monotonic() + 120
    while legend_items(page, "pspnet_ade20k").all_inner_texts() == legend_before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert legend_items(page, "pspnet_ade20k").all_inner_texts() != legend_before, "the legend did not change"
    after = output_cache(app_url)
    assert after["misses"] == before["misses"], (before, after)
    assert after["hits"] > before["hits"]

    # Download: the label map is an 8-bit PNG of the photo's size holding class indices (255: unlabelled).
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Label map (8-bit PNG)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    labels = Image.open(io.BytesIO(saved.read_bytes()))
    assert labels.mode == "L" and labels.size == (320, 214)
    values = np.asarray(labels)
    assert ((values < 21) | (values == 255)).all()  # the slider's network is VOC: 21 classes


def test_error_map_with_a_ground_truth(page, tmp_path):
    page.get_by_role("tab", name="1 · FCN vs U-Net").click()
    page.locator("#compare-examples img").first.click()  # an eliret test image and its mask
    truth_block = block_of(page, "Ground-truth mask (optional)")
    expect(truth_block.locator("img").first).to_have_attribute("src", re.compile(r"\S"), timeout=30_000)
    page.get_by_role("button", name="Compare", exact=True).first.click()
    maps = page.locator(".sd-maps").first
    deadline = time.monotonic() + RESULT_TIMEOUT_MS / 1000
    caption = re.compile(r"error map: true positive \d+\.\d %, false positive \d+\.\d %, false negative \d+\.\d %")
    while not maps.get_by_text(caption).count():
        toasts = page.get_by_test_id("toast-body").all_inner_texts()
        if toasts or time.monotonic() > deadline:
            pytest.fail(f"no error map; the page shows: {toasts or 'nothing'}")
        page.wait_for_timeout(250)
    expect(maps.get_by_text(re.compile(r"Legend.*true positive.*false positive.*false negative"))).to_be_visible()
    expect(maps.locator("img").first).to_be_visible()
    screenshot(page, "results_error_map.png", tmp_path, maps)


def wait_for_cache(app_url: str, page: Page, ready) -> dict:
    """Polls /health until `ready(output_cache)` holds."""
    deadline = time.monotonic() + RESULT_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        state = output_cache(app_url)
        if ready(state):
            return state
        page.wait_for_timeout(250)
    pytest.fail(f"the output cache never reached the expected state: {output_cache(app_url)}")


def test_a_photo_example_is_computed_once(page, app_url):
    """Examples go through Gradio's lazy example cache (table and slider) and the output cache
    (the side-by-side views): the first click on an example runs the network once; clicking it
    again later runs none."""
    page.get_by_role("tab", name="4 · PSPNet on photos").click()
    # An examples table's label is not a block label: the block around its text.
    thumbnails = block_around(page.get_by_text("Photos for Pascal VOC 2012 (people, animals)", exact=True)).locator("img")
    start = output_cache(app_url)
    thumbnails.nth(0).click()
    first = wait_for_cache(app_url, page, lambda state: state["misses"] == start["misses"] + 1 and state["hits"] > start["hits"])
    expect(legend_items(page, "pspnet_voc").first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    thumbnails.nth(1).click()
    second = wait_for_cache(app_url, page, lambda state: state["misses"] == first["misses"] + 1 and state["hits"] > first["hits"])
    thumbnails.nth(0).click()
    third = wait_for_cache(app_url, page, lambda state: state["hits"] > second["hits"])  # the views re-rendered
    page.wait_for_timeout(2000)
    assert output_cache(app_url)["misses"] == third["misses"] == second["misses"]  # no network ran again
    expect(legend_items(page, "pspnet_voc").first).to_be_visible()
