"""A real browser on the "Look inside" tab: feature maps, the pyramid (a PSPNet-50 with random
weights in the published layout, written here into a temporary weights folder), the building
blocks and a model card, each rendered once; the tab's text in Portuguese too.

With SEGDEMO_INSIDE_SCREENSHOTS=DIR the feature-map and pyramid panels are saved there at
1280 px (the README's docs/inside_*.png).
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

import browser_helpers
import pytest
from browser_helpers import block_of, opened_page
from playwright.sync_api import Page, expect

from ui.tabs import inside as inside_tab

RESULT_TIMEOUT_S = 300  # the pyramid converts and loads a 46-million-parameter network first

pytestmark = pytest.mark.slow
wait_for_image = partial(browser_helpers.wait_for_image, timeout_s=RESULT_TIMEOUT_S)


@pytest.fixture()
def app_url(pspnet_app):
    """The shared app with random-weight PSPNets (conftest), PSPNet-50 (ADE20K) among them."""
    return pspnet_app.url


@pytest.fixture()
def page(browser, app_url):
    with opened_page(browser, app_url + "?lang=en", viewport={"width": 1280, "height": 1000}) as page:
        yield page


def panel_screenshot(page: Page, element_id: str, name: str) -> None:
    """The row `element_id` (inputs and results of one part) as a PNG, when screenshots are asked for."""
    folder = os.environ.get("SEGDEMO_INSIDE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.locator(f"#{element_id}").screenshot(path=str(Path(folder) / name))


def test_each_part_of_the_tab_renders(page):
    page.get_by_role("tab", name=inside_tab.STRINGS[inside_tab.TITLE_KEY][0]).click()

    # Feature maps: an example image, the layer list filled when the tab opened, the channel grid.
    page.get_by_role("tab", name="Feature maps").click()
    layer = page.get_by_label("Layer (name · output size · part)")
    expect(layer).to_have_value(re.compile(r"^down2_conv2 · 16×16×32"), timeout=RESULT_TIMEOUT_S * 1000)
    page.locator("#inside-fm-examples .gallery-item").first.click()
    expect(page.locator("#inside-fm-image img").first).to_be_visible()  # the example is loaded
    page.get_by_role("button", name="Show the feature maps").click()
    wait_for_image(page, block_of(page, "Channels of the layer").locator("img").first)
    panel_screenshot(page, "inside-fm-row", "inside_feature_maps.png")

    # Pyramid: an example photo through the random-weight PSPNet-50, branches and class maps.
    page.get_by_role("tab", name="Pyramid pooling").click()
    page.get_by_label("Model").filter(visible=True).first.click()
    page.get_by_role("option", name="PSPNet-50 (ADE20K)").click()
    # An ADE20K scene (the examples are the photos of every PSPNet, VOC's first).
    page.locator("#inside-pyramid-examples .gallery-item").nth(3).click()
    expect(page.locator("#inside-pyramid-photo img").first).to_be_visible()
    page.get_by_role("button", name="Show the pyramid").click()
    wait_for_image(page, block_of(page, "The photo and the four pooled branches").locator("img").first)
    wait_for_image(
        page, block_of(page, "Class maps at 1/8: all branches · the chosen ones off · no pyramid").locator("img").first
    )
    # The table's last row: every branch off (rows: 1×1, 2×2, 3×3, 6×6 alone, then all four).
    expect(page.get_by_test_id("cell-4-0").filter(visible=True).first).to_contain_text("all four (no pyramid)")
    panel_screenshot(page, "inside-pyramid-row", "inside_pyramid.png")

    # Building blocks: the default 4×4 image through the default transposed convolution.
    page.get_by_role("tab", name="Building blocks").click()
    page.get_by_role("button", name="Compute").click()
    wait_for_image(page, block_of(page, "Input, kernel and output: numbers and pictures").locator("img").first)

    # Model card of the default model, with its diagram.
    page.get_by_role("tab", name="Model cards").click()
    page.get_by_role("button", name="Show the model card").click()
    wait_for_image(page, block_of(page, "Architecture: one box per layer").locator("img").first)
    expect(page.get_by_role("cell", name="multiply-adds")).to_be_visible()


def test_the_tab_speaks_portuguese(browser, app_url):
    with opened_page(browser, app_url + "?lang=pt-BR", viewport={"width": 1280, "height": 1000}, locale="pt-BR") as page:
        page.get_by_role("tab", name=inside_tab.STRINGS[inside_tab.TITLE_KEY][1]).click()
        for name in ("Mapas de características", "Pirâmide de pooling", "Blocos básicos", "Fichas dos modelos"):
            expect(page.get_by_role("tab", name=name)).to_be_visible()
        page.get_by_role("tab", name="Fichas dos modelos").click()
        page.get_by_role("button", name="Mostrar a ficha").click()
        expect(page.get_by_role("cell", name="multiplicações-somas")).to_be_visible(timeout=RESULT_TIMEOUT_S * 1000)
