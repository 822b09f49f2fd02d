"""A real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Opens the app, chooses an example on the "Compare models" tab, runs a comparison, checks the
result image, uploads a photo made here, compares again and saves a screenshot (copied to
$SEGDEMO_SCREENSHOT_DIR when set). Playwright never downloads a browser here: `make
test-browser` installs the Python package and Debian's chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from app_server import running_app
from PIL import Image

pytest.importorskip("playwright")
from playwright.sync_api import Locator, Page, expect, sync_playwright

from segdemo import registry, weights

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULT_LABEL = "Input, truth, and per model: grey and binarized outputs"
EXAMPLES_COLUMN = "Ground truth mask (optional)"
RESULT_TIMEOUT_S = 120  # the first comparison loads TensorFlow and the models
MODELS_TO_COMPARE = 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test-browser installs it)"),
]


def models_with_weights() -> list[str]:
    """Titles of up to two eliret models whose trained weights are on this machine."""
    keys = [key for key in registry.keys("eliret") if weights.local_path(registry.REGISTRY[key]).exists()]
    if not keys:
        pytest.skip("no trained eliret weights in weights/")
    return [registry.REGISTRY[key].title for key in keys[:MODELS_TO_COMPARE]]


def make_photo(path: Path) -> Path:
    """An 88×72 grey 'photo' like the eliret images: three dark shapes on a noisy light background."""
    rows, cols = np.mgrid[:72, :88]
    objects = (((rows - 20) / 8) ** 2 + ((cols - 22) / 11) ** 2 <= 1.0) | (((rows - 50) / 9) ** 2 + ((cols - 62) / 9) ** 2 <= 1.0)
    objects[44:60, 12:28] = True
    noise = np.random.default_rng(0).normal(0, 18, objects.shape)
    pixels = np.where(objects, 70, 180) + noise
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def block_of(page: Page, label: str) -> Locator:
    """The Gradio component whose label reads exactly `label`."""
    label_element = page.get_by_test_id("block-label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return label_element.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' block ')][1]")


def result_image(page: Page) -> Locator:
    return block_of(page, RESULT_LABEL).locator("img").first


def choose_models(page: Page, titles: list[str]) -> None:
    """Ticks exactly the models in `titles` (others may have no weights on this machine)."""
    models = page.get_by_role("group").filter(has=page.get_by_text("Models", exact=True))
    for box in models.get_by_role("checkbox").all():
        box.set_checked(False)
    for title in titles:
        models.get_by_role("checkbox", name=title, exact=True).check()
    expect(models.get_by_role("checkbox", checked=True)).to_have_count(len(titles))


def error_toasts(page: Page) -> list[str]:
    return [text.replace("\n", " ") for text in page.get_by_test_id("toast-body").all_inner_texts()]


def wait_for_result(page: Page, previous_src: str | None = None) -> str:
    """Waits for the result <img> (a new one when `previous_src` is given); returns its src.

    Fails at once, with the app's message, when the app shows an error instead.
    """
    image = result_image(page)
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while True:
        src = image.get_attribute("src") if image.count() else None
        if src and src != previous_src:
            break
        if error_toasts(page) or time.monotonic() > deadline:
            pytest.fail(f"no new result image; the page shows: {error_toasts(page) or 'nothing'}")
        page.wait_for_timeout(250)
    expect(image).to_be_visible()
    image.evaluate("img => img.decode()")  # raises when the PNG does not load
    assert image.evaluate("img => img.naturalWidth") > 0
    return src


def save_screenshot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    target_dir = os.environ.get("SEGDEMO_SCREENSHOT_DIR")
    if target_dir:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target_dir) / path.name)
    return path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("app") / "app.log") as app:
        yield app.url


@pytest.fixture()
def page(app_url):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            yield page
        finally:
            browser.close()


def test_compare_an_example_then_an_uploaded_photo(page, tmp_path):
    page.get_by_role("tab", name="Compare models").click()
    examples = page.get_by_role("grid").filter(has=page.get_by_role("columnheader", name=EXAMPLES_COLUMN)).first
    examples.get_by_role("row").nth(1).click()  # row 0 is the header
    expect(block_of(page, "Image").locator("img").first).to_have_attribute("src", re.compile(r"\S"))
    titles = models_with_weights()
    choose_models(page, titles)  # after the example, which ticks models of its own
    page.get_by_role("button", name="Compare", exact=True).click()
    first_src = wait_for_result(page)
    scores = page.get_by_role("grid", name="Scores")
    for title in titles:
        expect(scores.get_by_role("row").filter(has_text=title)).to_have_count(1)

    block_of(page, EXAMPLES_COLUMN).get_by_role("button", name="Remove Image").click()  # the example's truth
    photo = make_photo(tmp_path / "uploaded_photo.png")
    image_input = block_of(page, "Image")
    image_input.locator("input[type=file]").set_input_files(str(photo))
    expect(image_input.locator("img").first).to_have_attribute("src", re.compile(r"uploaded_photo\.png"), timeout=30_000)
    page.get_by_role("button", name="Compare", exact=True).click()
    second_src = wait_for_result(page, previous_src=first_src)
    assert second_src != first_src
    expect(scores.get_by_role("row")).to_have_count(1 + len(titles))

    screenshot = save_screenshot(page, tmp_path / "segdemo_browser.png")
    assert screenshot.stat().st_size > 10_000
