"""The app launcher for tests: it lives in bench/app_server.py (benches use it too and never import
from tests/); the tests keep importing it as `app_server`. The session's shared apps are
conftest's `default_app` and `pspnet_app` fixtures."""

import time

from bench.app_server import START_TIMEOUT_S, AppDidNotStart, RunningApp, free_port, running_app
from bench.app_server import health as app_health
from bench.app_server import wait_for_warm_up as bench_wait_for_warm_up

__all__ = [
    "SEEDED_PSPNETS",
    "SEEDED_PSPNET_SEED",
    "START_TIMEOUT_S",
    "AppDidNotStart",
    "RunningApp",
    "free_port",
    "health",
    "running_app",
    "wait_for_warm_up",
]

# The PSPNets of the shared `pspnet_app` (random weights, seeded): the photo tab shows both side by side.
SEEDED_PSPNETS = ("pspnet_voc", "pspnet_ade20k")
SEEDED_PSPNET_SEED = 1


def health(url: str) -> dict:
    """The app's /health (`bench.app_server.health`); an app without one fails the test."""
    report = app_health(url)
    assert report, "the app has no /health"
    return report


def wait_for_warm_up(app: RunningApp, timeout_s: float = 600) -> dict:
    """Waits until the app's start-up warm-up has run (app.warm_up loads and runs, one after
    another, the small models, then the photo tab's default networks whose weights are here): the
    last of them is loaded (the models' cache may have let the first ones go again) and no network
    has run for two looks a second apart (`bench.app_server.wait_for_warm_up`). Returns the last /health."""
    try:
        return bench_wait_for_warm_up(app.url, time.monotonic() + timeout_s)
    except TimeoutError:
        raise AssertionError(f"the warm-up did not finish; the app's log:\n{app.log_tail()}") from None
