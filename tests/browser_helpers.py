"""What the browser tests share: Debian's Chromium driven by Playwright (never a downloaded
browser), finding Gradio blocks by their label, waiting for result images, screenshots."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

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
RESULT_TIMEOUT_S = 180  # the first comparison loads TensorFlow and the models on a busy 2-core machine

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test-browser installs it)"
)


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@contextlib.contextmanager
def opened_page(url: str, **context_options):
    """A page of a fresh Chromium at `url` (context options: viewport, locale, ...), closed afterwards."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(**context_options).new_page()
            page.goto(url)
            yield page
        finally:
            browser.close()


def block_of(scope: Page | Locator, label: str) -> Locator:
    """The Gradio component whose label reads exactly `label`."""
    label_element = scope.get_by_test_id("block-label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return label_element.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' block ')][1]")


def error_toasts(page: Page) -> list[str]:
    return [text.replace("\n", " ") for text in page.get_by_test_id("toast-body").all_inner_texts()]


def wait_for_image(page: Page, image: Locator, previous_src: str | None = None) -> str:
    """Waits for `image` to show a (new, when `previous_src` is given) picture; returns its src.

    Fails at once, with the app's message, when the app shows an error instead.
    """
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


def save_screenshot(page: Page, path: Path, full_page: bool = True) -> Path:
    """A screenshot at `path`, copied to $SEGDEMO_SCREENSHOT_DIR when that is set."""
    page.screenshot(path=str(path), full_page=full_page)
    target_dir = os.environ.get("SEGDEMO_SCREENSHOT_DIR")
    if target_dir:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target_dir) / path.name)
    return path
