"""What the browser tests share: Debian's Chromium driven by Playwright (never a downloaded
browser; the session's one instance is conftest's `browser` fixture), a fresh context per page,
finding Gradio blocks by their label, waiting for result images, screenshots."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from prerequisites import require_module

require_module("playwright.sync_api")
from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402

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


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@contextlib.contextmanager
def opened_page(browser: Browser, url: str, **context_options):
    """A page at `url` in a new context of `browser` (its own cookies and storage), closed afterwards.

    Args:
        browser: the session's Chromium (conftest's `browser` fixture).
        url: the page to open.
        context_options: Playwright's context options (viewport, locale, accept_downloads, ...).
    """
    context = browser.new_context(**context_options)
    try:
        page = context.new_page()
        page.goto(url)
        yield page
    finally:
        context.close()


def block_around(element: Locator) -> Locator:
    """The Gradio block (component) that holds `element`."""
    return element.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' block ')][1]")


def block_of(scope: Page | Locator, label: str) -> Locator:
    """The Gradio component whose label reads exactly `label`."""
    return block_around(scope.get_by_test_id("block-label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))


def error_toasts(page: Page) -> list[str]:
    return [text.replace("\n", " ") for text in page.get_by_test_id("toast-body").all_inner_texts()]


def wait_for_image(page: Page, image: Locator, previous_src: str | None = None, timeout_s: float = RESULT_TIMEOUT_S) -> str:
    """Waits for `image` to show a (new, when `previous_src` is given) picture; returns its src.

    Fails at once, with the app's message, when the app shows an error instead.

    Args:
        page: the page that shows `image` (and the app's error toasts).
        image: the result image.
        previous_src: the src it showed before the request, if any.
        timeout_s: how long to wait for the picture.
    """
    deadline = time.monotonic() + timeout_s
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
