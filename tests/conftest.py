"""Shared fixtures. Tests use the course's data beside the checkout (SEGDEMO_DATA_DIR, set by
the Makefile) and never touch the user's download cache.

The app servers and the browser are started once per session and shared (starting the app costs
10-30 s of a 2-core machine, Chromium a few seconds): `default_app` is the default app, `pspnet_app` the
app with random-weight PSPNets in the published layout, `browser` one headless Chromium in which
each test opens its own context. A test that needs a setting these cannot have starts its own
app and is marked `own_app`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from app_server import SEEDED_PSPNET_SEED, SEEDED_PSPNETS, AppDidNotStart, running_app, wait_for_warm_up
from prerequisites import missing, require_module

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The app's defaults pick int8 or bfloat16 through a background measurement (segdemo.engines); the
# tests, and the app servers they start, compare with figures measured in float32 through TensorFlow,
# so they run that unless a test asks otherwise (tests/test_precision.py covers the defaults).
os.environ.setdefault("SEGDEMO_PRECISION", "exact")
os.environ.setdefault("SEGDEMO_ENGINE", "tensorflow")
if "SEGDEMO_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["SEGDEMO_DATA_DIR"] = str(SHARED_DATA)


# With pytest-xdist (`make test`: `-n 2 --dist loadgroup`), each worker process starts the session
# fixtures its tests ask for, and the module fixtures of each module it runs tests of. Spread test by
# test, both workers started both apps and wrote the random PSPNets, and several modules' fixtures
# (a first training run, trained-like weights) ran twice. So the tests are grouped, one group to a
# worker: those of the PSPNet app and the random published files, those of the default app, and every
# other module's tests together. See docs/testing.md.
SHARED_GROUPS = (("random_published", "pspnet_files"), ("default_app", "default_app"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = next((name for fixture, name in SHARED_GROUPS if fixture in item.fixturenames), None)
        item.add_marker(pytest.mark.xdist_group(group or item.nodeid.split("::")[0]))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty download cache."""
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SEGDEMO_DATA_DIR")
    if not value or not (Path(value) / "eliret" / "treino.csv").exists():
        missing("the course's data is not available (set SEGDEMO_DATA_DIR)")
    return Path(value)


@pytest.fixture(scope="session")
def eliret_dir(data_dir) -> Path:
    return data_dir / "eliret"


@pytest.fixture(scope="session")
def membrane_dir(data_dir) -> Path:
    return data_dir / "membrane"


def _serve(log: Path, env: dict[str, str], ready=None):
    """Runs the app until the session ends; a start that fails fails the tests that need it.
    `ready(running)`, when given, is waited for before the first test gets the app."""
    try:
        with running_app(log, env=env) as running:
            if ready is not None:
                ready(running)
            yield running
    except AppDidNotStart as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def default_app(tmp_path_factory):
    """The app as `make run` starts it (offline, its own empty cache), shared by the session.

    Tests may train on it (the Train tab) and fill its output cache: each one sends its own
    photos, and a training started by a test ends before that test does.
    """
    folder = tmp_path_factory.mktemp("app")
    yield from _serve(folder / "app.log", {"SEGDEMO_CACHE_DIR": str(folder / "cache")})


@pytest.fixture(scope="session")
def random_published(tmp_path_factory):
    """`random_published(key, seed)`: a folder holding a registry PSPNet with random weights (Keras
    seeded with `seed`) in the published layout, for SEGDEMO_WEIGHTS_DIR. Each (key, seed) is
    built and written once per session (a PSPNet-50 file is 187 MB); tests only read these folders."""
    from tests.legacy_h5_writer import write_random_published

    folders: dict[tuple[str, int], Path] = {}

    def written(key: str, seed: int) -> Path:
        if (key, seed) not in folders:
            folder = tmp_path_factory.mktemp(f"published-{key}-seed{seed}")
            write_random_published(folder, key, seed=seed)
            folders[key, seed] = folder
        return folders[key, seed]

    return written


@pytest.fixture(scope="session")
def pspnet_app_folder(tmp_path_factory, random_published) -> Path:
    """The folder of `pspnet_app`: published/ holds the PSPNets of SEEDED_PSPNETS, random weights
    written in the published layout (the published files cannot be downloaded here; a random
    network costs the same time), and cache/ its Keras 3 conversions. Another app may serve the
    same files from them (tests/test_workers.py), without writing them or converting them again."""
    from segdemo import registry

    folder = tmp_path_factory.mktemp("pspnet-app")
    published = folder / "published"
    published.mkdir()
    for key in SEEDED_PSPNETS:
        name = registry.get(key).weights_file
        os.link(random_published(key, SEEDED_PSPNET_SEED) / name, published / name)  # the same file, not a copy
    return folder


@pytest.fixture(scope="session")
def pspnet_app(pspnet_app_folder):
    """The app with the PSPNets of SEEDED_PSPNETS (`pspnet_app_folder`), one inference worker
    whatever the cores (tests/test_workers.py compares a two-worker app with it)."""
    folder = pspnet_app_folder
    env = {
        "SEGDEMO_WEIGHTS_DIR": str(folder / "published"),
        "SEGDEMO_CACHE_DIR": str(folder / "cache"),
        "SEGDEMO_WORKERS": "1",
        # Gradio's example cache of this random-weight app stays out of the checkout's .gradio/.
        "GRADIO_EXAMPLES_CACHE": str(folder / "examples"),
    }
    # Its warm-up loads and runs PSPNet-101 in the background: once it has, every network this app
    # runs goes through its one-worker queue (tests/test_workers.py checks that none ran together).
    yield from _serve(folder / "app.log", env, ready=wait_for_warm_up)


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session; tests open their own context in it
    (browser_helpers.opened_page), so cookies, storage and locale never leak between them."""
    require_module("playwright.sync_api")
    from browser_helpers import CHROMIUM, launch

    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed (make test-browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
