"""A fresh clone with no data folder, no network and an empty home folder, as on a Space.

The repository's committed HEAD is cloned into a temporary folder and its app.py started there
with SEGDEMO_DATA_DIR unset, HOME (hence every default cache) and the temp folder empty, and
every connection to anything but 127.0.0.1 refused (a sitecustomize module on PYTHONPATH wraps
socket connections and name lookups in the app's process). Through the running server it checks
that the examples the UI offers are the shipped ones and are served, and that the augmentation
preview works for both datasets.

Written against the app's API endpoint name (`augmentation_preview`) and Gradio's /config
JSON (its example datasets), not against the layout of the tabs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from app_server import AppDidNotStart, running_app
from gradio_client import Client
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ("eliret", "membrane")
# Example groups the UI must offer (examples/index.json); the training pairs serve only the preview.
SHOWN_GROUPS = ("lecture_test", "large", "membrane_labelled", "membrane_unlabelled", "photos")

pytestmark = [pytest.mark.slow, pytest.mark.own_app]  # a fresh clone, its own environment

# Loaded by Python at start-up in the app's process: only loopback connections get through,
# and each refused attempt is written to a log that the test reads.
NETWORK_GUARD = textwrap.dedent(
    """
    import errno
    import os
    import socket

    _LOG = os.environ["SEGDEMO_TEST_NETWORK_LOG"]
    _LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")


    def _refuse(what):
        with open(_LOG, "a") as log:
            log.write(f"{what}\\n")
        raise OSError(errno.ENETUNREACH, f"network disabled for this test: {what}")


    def _is_local(host):
        return str(host) in _LOCAL or str(host).startswith("127.")


    _connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"connect {address}")
        return _connect(self, address)


    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"connect {address}")
        return _connect_ex(self, address)


    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_local(host.decode() if isinstance(host, bytes) else host):
            _refuse(f"getaddrinfo {host}")
        return _getaddrinfo(host, *args, **kwargs)


    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    """
)


def bare_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a new user: no segdemo settings, an empty home and temp folder, no network."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("SEGDEMO_", "HF_", "XDG_", "GRADIO_", "PYTHON"))
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(temp),
        PYTHONPATH=str(guard),
        SEGDEMO_TEST_NETWORK_LOG=str(tmp_path / "network.log"),
        GRADIO_ANALYTICS_ENABLED="False",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    destination = tmp_path_factory.mktemp("bare") / "segdemo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(destination)], check=True, capture_output=True, timeout=300)
    assert not (destination / "data").exists() and (destination / "examples" / "index.json").is_file()
    return destination


@pytest.fixture(scope="module")
def bare_app(clone, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bare-run")
    env = bare_environment(folder)
    try:
        with running_app(folder / "app.log", base_env=env, cwd=clone, offline=False) as running:
            yield {"url": running.url, "env": env, "folder": folder, "clone": clone}
    except AppDidNotStart as error:
        pytest.fail(str(error))


def shown_files(clone: Path) -> dict[str, list[str]]:
    """The shipped files the UI must offer, by group (file names, as Gradio's cache keeps them)."""
    index = json.loads((clone / "examples" / "index.json").read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = {group: [] for group in SHOWN_GROUPS}
    for entry in index["examples"]:
        if entry["group"] in groups:
            groups[entry["group"]].append(Path(entry["image"]).name)
    return groups


def example_files(config: dict) -> dict[str, dict]:
    """Every file offered in an example dataset of the page, by file name."""
    files = {}

    def collect(value):
        if isinstance(value, dict):
            if value.get("path") and value.get("url"):
                files[value.get("orig_name") or Path(value["path"]).name] = value
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for component in config["components"]:
        if component.get("type") == "dataset":
            collect(component.get("props", {}).get("samples"))
    return files


def test_the_network_guard_refuses_connections(bare_app):
    """The guard works: the same environment cannot reach PyPI (which this machine can)."""
    attempt = "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/', timeout=5)"
    env = dict(bare_app["env"], SEGDEMO_TEST_NETWORK_LOG=str(bare_app["folder"] / "guard-check.log"))
    result = subprocess.run([sys.executable, "-c", attempt], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "network disabled for this test" in result.stderr


def test_every_group_of_shipped_examples_is_offered_and_served(bare_app):
    with urllib.request.urlopen(bare_app["url"] + "config", timeout=30) as response:
        config = json.loads(response.read())
    offered = example_files(config)
    for group, names in shown_files(bare_app["clone"]).items():
        assert names, f"examples/index.json has no {group} examples"
        missing = [name for name in names if name not in offered]
        assert not missing, f"the page offers no {group} example {missing}; it offers {sorted(offered)}"
    # A lecture image and a photo come back from the server byte for byte.
    for relative in ("eliret/076x.png", "photos/city_nyc_street.jpg"):
        url = offered[Path(relative).name]["url"]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == (bare_app["clone"] / "examples" / relative).read_bytes()


def preview_arguments(client: Client, preset: str) -> dict:
    """Keyword arguments for /augmentation_preview: the dataset choice set to `preset`, the rest left at their defaults."""
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/augmentation_preview"]
    dataset = [parameter for parameter in endpoint["parameters"] if preset in json.dumps(parameter.get("type", {}))]
    assert len(dataset) == 1, f"no single dataset choice among {endpoint['parameters']}"
    return {dataset[0]["parameter_name"]: preset}


@pytest.mark.parametrize("preset", PRESETS)
def test_augmentation_preview_works_for_both_datasets(bare_app, preset):
    client = Client(bare_app["url"], verbose=False)
    result = client.predict(**preview_arguments(client, preset), api_name="/augmentation_preview")
    figure_path = result[0] if isinstance(result, (list, tuple)) else result
    with Image.open(figure_path) as figure:
        figure.load()
        # Four pairs, each shown as original and augmented image and mask cells of 128 pixels.
        assert figure.width >= 4 * 128 and figure.height >= 4 * 128


def test_nothing_was_fetched_from_the_network(bare_app):
    """Runs last in this module: the app never needed anything beyond the clone."""
    log = bare_app["env"]["SEGDEMO_TEST_NETWORK_LOG"]
    attempts = Path(log).read_text() if Path(log).exists() else ""
    app_log = (bare_app["folder"] / "app.log").read_text(errors="replace")
    assert "Traceback" not in app_log, app_log[-3000:]
    assert not attempts, f"the app tried to reach the network:\n{attempts}"
