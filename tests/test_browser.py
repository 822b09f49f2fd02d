"""A real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Opens the app in English, chooses an example on the "1 · FCN vs U-Net" tab, runs a comparison, checks the
result image, uploads a photo made here, compares again and saves a screenshot (copied to
$SEGDEMO_SCREENSHOT_DIR when set). Playwright never downloads a browser here: `make
test-browser` installs the Python package and Debian's chromium.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from browser_helpers import block_of, opened_page, save_screenshot, wait_for_image
from PIL import Image
from playwright.sync_api import Locator, Page, expect
from prerequisites import missing

from segdemo import registry, weights
from ui.tabs import fcn_unet

# The page in English (the browser's locale): the texts of ui.tabs.fcn_unet and ui.comparison.
TAB = "1 · FCN vs U-Net"
RESULT_LABEL = "Input and outputs per model"
TRUTH_LABEL = "Ground-truth mask (optional)"
EXAMPLES = "#compare-examples"
MODELS_TO_COMPARE = 2

pytestmark = pytest.mark.slow


def models_with_weights() -> list[str]:
    """Titles of up to two of the tab's models whose trained weights are on this machine."""
    keys = [key for key in fcn_unet.MODELS if weights.local_path(registry.REGISTRY[key]).exists()]
    if not keys:
        missing("no trained eliret weights in weights/")
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


def result_image(page: Page) -> Locator:
    return block_of(page.get_by_role("tabpanel"), RESULT_LABEL).locator("img").first


def choose_models(page: Page, titles: list[str]) -> None:
    """Ticks exactly the models in `titles` (others may have no weights on this machine)."""
    models = page.get_by_role("tabpanel").get_by_role("group").filter(has=page.get_by_text("Models", exact=True))
    for box in models.get_by_role("checkbox").all():
        box.set_checked(False)
    for title in titles:
        models.get_by_role("checkbox", name=title, exact=True).check()
    expect(models.get_by_role("checkbox", checked=True)).to_have_count(len(titles))


@pytest.fixture()
def page(browser, default_app):
    with opened_page(browser, default_app.url, locale="en-US", viewport={"width": 1400, "height": 1000}) as page:
        yield page


def test_compare_an_example_then_an_uploaded_photo(page, tmp_path):
    page.get_by_role("tab", name=TAB, exact=True).filter(visible=True).first.click()
    panel = page.get_by_role("tabpanel")
    page.locator(f"{EXAMPLES} tbody tr").first.click()
    expect(block_of(panel, "Image").locator("img").first).to_have_attribute("src", re.compile(r"\S"))
    titles = models_with_weights()
    choose_models(page, titles)
    panel.get_by_role("button", name="Compare", exact=True).click()
    first_src = wait_for_image(page, result_image(page))
    scores = panel.get_by_role("grid", name="Scores")
    for title in titles:
        expect(scores.get_by_role("gridcell", name=title, exact=True)).to_have_count(1)

    block_of(panel, TRUTH_LABEL).get_by_role("button", name="Remove Image").click()  # the example's truth
    photo = make_photo(tmp_path / "uploaded_photo.png")
    image_input = block_of(panel, "Image")
    image_input.locator("input[type=file]").set_input_files(str(photo))
    expect(image_input.locator("img").first).to_have_attribute("src", re.compile(r"uploaded_photo\.png"), timeout=30_000)
    panel.get_by_role("button", name="Compare", exact=True).click()
    second_src = wait_for_image(page, result_image(page), previous_src=first_src)
    assert second_src != first_src
    expect(scores.get_by_role("row")).to_have_count(1 + len(titles))

    screenshot = save_screenshot(page, tmp_path / "segdemo_browser.png")
    assert screenshot.stat().st_size > 10_000


class Requests:
    """Records the requests `page` sends to the app from now until `stop()`, which returns them
    (while another page is driven: Playwright passes on every page's events while it waits)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.sent: list[str] = []
        page.on("request", self._record)

    def _record(self, request) -> None:
        self.sent.append(f"{request.method} {request.url}")

    def stop(self) -> list[str]:
        self.page.remove_listener("request", self._record)
        return self.sent


def requests_during(page: Page, seconds: float) -> list[str]:
    """The requests the page sends to the app in the next `seconds`."""
    recorder = Requests(page)
    page.wait_for_timeout(seconds * 1000)
    return recorder.stop()


def requests_until(page: Page, count: int, seconds: float) -> list[str]:
    """The requests the page sends to the app until there are `count` of them, or `seconds` have passed."""
    recorder = Requests(page)
    deadline = time.monotonic() + seconds
    while len(recorder.sent) < count and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return recorder.stop()


def wait_until_quiet(*pages: Page) -> None:
    """Waits until two seconds pass without a request from any of `pages` (their load events)."""
    for _ in range(30):
        recorders = [Requests(page) for page in pages]
        pages[0].wait_for_timeout(2000)
        if not any([recorder.stop() for recorder in recorders]):
            return
    raise AssertionError("the page kept sending requests for a minute after it loaded")


IDLE_S = 10.0


def test_an_idle_page_makes_no_requests_outside_the_train_tab(page, browser, default_app):
    """A page left open on the first tab sends nothing once it has loaded (a class of idle students
    must not poll the 2-core server); the Train tab's status line is refreshed only while it is open.

    Two students at once: `page` stays on the first tab for at least IDLE_S seconds while `other`
    opens the Train tab, watches its status line refresh, and goes back to the first tab."""
    from ui.tabs import train as train_tab

    with opened_page(browser, default_app.url, locale="en-US", viewport={"width": 1400, "height": 1000}) as other:
        for each in (page, other):
            # The first load of a page: on a busy 2-core machine Gradio's "Loading..." can outlast 5 s.
            expect(each.get_by_role("tab", name=TAB, exact=True).filter(visible=True).first).to_be_visible(timeout=30_000)
        wait_until_quiet(page, other)
        idle = Requests(page)
        started = time.monotonic()

        other.get_by_role("tab", name=train_tab.STRINGS[train_tab.TITLE_KEY][0], exact=True).filter(visible=True).first.click()
        expect(other.locator("#sd-train-server-status")).to_contain_text("No training is running")
        polls = requests_until(other, 2, train_tab.STATUS_REFRESH_S * 2 + 1)
        assert len(polls) >= 2, f"the Train tab's status line was not refreshed: {polls}"

        other.get_by_role("tab", name=TAB, exact=True).filter(visible=True).first.click()
        requests_during(other, 1.0)  # the tab switch itself
        assert requests_during(other, train_tab.STATUS_REFRESH_S * 2 + 1) == []

        page.wait_for_timeout(max(0.0, IDLE_S - (time.monotonic() - started)) * 1000)
        # A hidden page's timers would be slowed down: the idle one is as visible as a student's.
        assert page.evaluate("document.visibilityState") == "visible"
        assert idle.stop() == []
        assert time.monotonic() - started >= IDLE_S
