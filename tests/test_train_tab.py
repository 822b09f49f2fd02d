"""The Train tab through the running app: gradio_client for the API (streaming, the one-training
rule, Stop, priority of inference, the session's model in the comparison) and headless Chromium for
the page (streamed curve and outputs; closing the page stops its training). The committed weights
are hashed before the app starts and after the last test."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from segdemo import live_training
from tests.model_helpers import committed_weight_digests
from ui.tabs import train as train_tab

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "eliret" / "076x.png"
EXAMPLE_TRUTH = ROOT / "examples" / "eliret" / "076y.png"
FREE_TIMEOUT_S = 120

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def committed_digests() -> dict[str, str]:
    return committed_weight_digests()


@pytest.fixture(scope="module")
def app_url(committed_digests, default_app):
    """The session's shared default app (conftest); each test's training ends before it does."""
    return default_app.url


def training_losses(plot: dict) -> list[float]:
    """The training curve of a streamed LinePlot update, in epoch order."""
    rows = (plot["value"] or {"data": []})["data"]  # the first update, before any epoch, has no points
    return [mse for _, mse, curve in sorted(rows) if curve == "training"]


def is_free(client: Client) -> bool:
    try:
        client.predict(api_name="/training_free")
    except AppError as error:
        assert "A training is running" in str(error)
        return False
    return True


def wait_until_free(client: Client, timeout_s: float = FREE_TIMEOUT_S) -> float:
    """Seconds until no training runs on the server."""
    started = time.monotonic()
    while not is_free(client):
        assert time.monotonic() - started < timeout_s, "the training did not end"
        time.sleep(0.2)
    return time.monotonic() - started


def wait_for_epoch(job, epoch: int, timeout_s: float = FREE_TIMEOUT_S) -> tuple:
    """The job's latest output once it reports at least `epoch` epochs."""
    started = time.monotonic()
    while True:
        outputs = job.outputs()
        if outputs and len(training_losses(outputs[-1][0])) >= epoch:
            return outputs[-1]
        assert not job.done(), f"the run ended before epoch {epoch}: {outputs[-1] if outputs else job.exception()}"
        assert time.monotonic() - started < timeout_s
        time.sleep(0.1)


def epochs_in(status: str) -> int:
    return int(re.search(r"(?:after|Done:) epoch (\d+) of", status).group(1))


def test_a_run_streams_each_epoch_and_its_model_joins_this_browsers_comparison_only(app_url):
    own, other = Client(app_url, verbose=False), Client(app_url, verbose=False)
    job = own.submit("fcn", False, 3, 1, "random", api_name="/train")
    outputs = list(job)
    updates = [output for output in outputs if training_losses(output[0])]
    assert len(updates) >= 2  # streamed, not one answer at the end
    losses = training_losses(updates[-1][0])
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert [len(training_losses(update[0])) for update in updates] == sorted(
        {len(training_losses(update[0])) for update in updates}
    )
    plot, figure, status = outputs[-1]
    assert status.startswith("Done: epoch 3 of 3") and "comparisons of tabs 1 and 2" in status
    with Image.open(figure) as picture:
        assert picture.format == "PNG" and picture.width > 400 and picture.height > 250

    # This browser's comparison gains a row for its own model; another browser's does not.
    arguments = (handle_file(str(EXAMPLE)), handle_file(str(EXAMPLE_TRUTH)), ["fcn", "unet"], 0.5)
    _, mine = own.predict(*arguments, api_name="/compare")
    _, theirs = other.predict(*arguments, api_name="/compare")
    assert [row[0] for row in theirs["data"]] == ["FCN", "U-Net"]
    assert [row[0] for row in mine["data"]] == ["FCN", "U-Net", "Yours: FCN, 3 ep."]
    assert mine["data"][-1][-1] == "trained in this browser (Train tab)"
    # Scored on the same image, the 3-epoch FCN does worse than the committed one (1000 epochs).
    (_, committed_mse, committed_iou, *_), (_, mse, iou, *_) = mine["data"][0], mine["data"][-1]
    assert mse > committed_mse and iou < committed_iou, (mine["data"][0], mine["data"][-1])
    _, large = own.predict(
        handle_file(str(ROOT / "examples" / "eliret" / "maior2x.png")), None, ["fcn_aug"], 0.5, api_name="/compare_large"
    )
    assert [row[0] for row in large["data"]] == ["FCN + augmentation", "Yours: FCN, 3 ep."]


def test_a_second_training_is_refused_or_waits_and_stop_ends_a_run_within_an_epoch(app_url):
    first, second = Client(app_url, verbose=False), Client(app_url, verbose=False)
    job = first.submit("unet", False, 40, 2, "random", api_name="/train")
    seen = wait_for_epoch(job, 2)
    # The Train button's check refuses at once, with a clear message ...
    with pytest.raises(AppError, match="A training is running on this server"):
        second.predict(api_name="/training_free")
    # ... and a training asked for through the API waits in the training queue (limit 1).
    waiting = second.submit("fcn", False, 1, 3, "random", api_name="/train")
    # Stop pressed in another browser does not stop this run: it goes on to the next epoch.
    second.predict(api_name="/stop_training")
    seen = wait_for_epoch(job, len(training_losses(seen[0])) + 1)
    assert not waiting.outputs() and not waiting.done()
    # Stop in the run's own session ends it within one epoch of the press.
    epochs_seen = len(training_losses(seen[0]))
    first.predict(api_name="/stop_training")
    _, _, status = job.result(timeout=FREE_TIMEOUT_S)
    assert status.startswith("Stopped after epoch") and epochs_seen <= epochs_in(status) <= epochs_seen + 1
    # Then the queued training runs to its end.
    _, _, status = waiting.result(timeout=FREE_TIMEOUT_S)
    assert status.startswith("Done: epoch 1 of 1")
    assert is_free(second)


def test_inference_requests_pause_the_training(app_url):
    trainer, student = Client(app_url, verbose=False), Client(app_url, verbose=False)
    job = trainer.submit("unet", False, 40, 4, "random", api_name="/train")
    wait_for_epoch(job, 1)
    for _ in range(6):
        student.predict(handle_file(str(EXAMPLE)), None, ["fcn", "unet"], 0.5, api_name="/compare")
    seen = wait_for_epoch(job, len(training_losses(job.outputs()[-1][0])) + 1)
    trainer.predict(api_name="/stop_training")
    job.result(timeout=FREE_TIMEOUT_S)
    paused = re.search(r"Paused ([\d.]+) s so that other students' requests ran first", seen[2])
    assert paused and float(paused.group(1)) >= 0.1, seen[2]


def test_bad_settings_get_a_clear_message(app_url):
    client = Client(app_url, verbose=False)
    with pytest.raises(AppError, match="Cannot train with these settings: The number of epochs must be between 1 and"):
        client.predict("unet", False, 90, 1, "random", api_name="/train")  # within the FCN's cap, above the U-Net's
    assert is_free(client)


def shown_epoch_after(status, cap: str, epoch: int) -> tuple[int, float]:
    """The first epoch above `epoch` that the status shows while the run goes on ("Epoch N of cap"),
    and when it was seen; fails when the run ends or FREE_TIMEOUT_S passes first."""
    running = re.compile(rf"Epoch (\d+) of {cap}:")
    deadline = time.monotonic() + FREE_TIMEOUT_S
    while time.monotonic() < deadline:
        text = status.inner_text()
        found = running.search(text)
        if found and int(found[1]) > epoch:
            return int(found[1]), time.monotonic()
        assert not text.startswith("Done"), f"the run ended before the page showed an epoch after {epoch}: {text}"
        time.sleep(0.05)
    raise AssertionError(f"no epoch after {epoch} shown in {FREE_TIMEOUT_S} s: {status.inner_text()}")


def test_the_page_streams_a_run_and_closing_it_stops_the_training(app_url, browser):
    from playwright import sync_api as playwright_api  # the `browser` fixture has checked it is installed

    client = Client(app_url, verbose=False)
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(app_url)
        page.get_by_role("tab", name=train_tab.STRINGS[train_tab.TITLE_KEY][0], exact=True).click()
        # The page's load event sets the U-Net's cap; then ask for all of it.
        cap = str(live_training.EPOCH_CAPS["unet"])
        playwright_api.expect(page.locator("#sd-train-epochs input[type=range]")).to_have_attribute("max", cap, timeout=60_000)
        epochs = page.locator("#sd-train-epochs input[type=number]")
        epochs.fill(cap)
        epochs.press("Tab")
        playwright_api.expect(page.locator("#sd-train-epochs input[type=range]")).to_have_value(cap)
        page.locator("#sd-train-button").click()
        status = page.locator("#sd-train-status")
        # Two epochs in a row as the page shows them. On a quiet machine an epoch takes about a second,
        # shorter than Playwright's polling of one exact text ("Epoch 2 of 40") may last, so the
        # epochs are read as they come: from the first shown after epoch 1 to the next one.
        first, started = shown_epoch_after(status, cap, 1)
        following, ended = shown_epoch_after(status, cap, first)
        epoch_s = (ended - started) / (following - first)
        # The outputs figure and both curves, in the colours the chart's label names, are drawn.
        panel = page.get_by_role("tabpanel")
        assert panel.locator("img").first.evaluate("img => img.naturalWidth") > 400
        chart = np.asarray(Image.open(io.BytesIO(page.locator("#sd-train-plot").screenshot())).convert("RGB")).astype(int)
        for colour in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)):  # training blue, validation orange
            assert (np.abs(chart - colour).sum(axis=2) < 60).sum() > 30, f"no {colour} curve on the chart"
        # Another student's page says a training is running.
        other = browser.new_page(locale="en-US")  # in its own context: another student
        other.goto(app_url)
        tab = other.get_by_role("tab", name=train_tab.STRINGS[train_tab.TITLE_KEY][0], exact=True)
        tab.click()
        if tab.get_attribute("aria-selected") != "true":  # clicked before the page's scripts ran (seen once in CI)
            other.wait_for_timeout(2000)
            tab.click()
        playwright_api.expect(other.locator("#sd-train-server-status")).to_contain_text("A training is running", timeout=20_000)
        other.close()
        page.close()  # the student closes the tab mid-run
        waited = wait_until_free(client, timeout_s=60)
    finally:
        context.close()  # a second close of the page is harmless
    # The other 37 epochs would take 37 × epoch_s: the run ended because its page closed.
    assert waited < min(30.0, 18 * epoch_s)


def test_committed_weights_are_byte_identical_afterwards(app_url, committed_digests):
    client = Client(app_url, verbose=False)
    job = client.submit("unet", True, 2, 5, "committed", api_name="/train")
    _, _, status = job.result(timeout=FREE_TIMEOUT_S * 2)
    assert status.startswith("Done: epoch 2 of 2")
    assert committed_weight_digests() == committed_digests
    assert {"fcn.weights.h5", "fcn_aug.weights.h5", "unet.weights.h5", "unet_aug.weights.h5"} <= set(committed_digests)
