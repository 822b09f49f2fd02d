"""Starts the real app (`python app.py`) on a free local port, for tests and benches.

Used by the benches (bench.load, bench.burst, python -m bench) and by the app and browser tests
(through tests/app_server.py, which re-exports this module: bench/ never imports from tests/).
The app runs in its own process, so what it does to memory, threads or Pillow settings stays there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180


class AppDidNotStart(RuntimeError):
    """The app exited or did not answer HTTP 200 in time; the message ends with its log."""


@dataclass(frozen=True)
class RunningApp:
    """A started app: its base URL, process, log file, and seconds from process start to the first HTTP 200."""

    url: str
    process: subprocess.Popen
    log: Path
    ready_seconds: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_app(
    log: Path,
    timeout_s: float = START_TIMEOUT_S,
    env: dict[str, str] | None = None,
    *,
    base_env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    offline: bool = True,
) -> Iterator[RunningApp]:
    """Runs app.py on 127.0.0.1 and a free port until the block ends.

    Args:
        log: file that receives the app's stdout and stderr.
        timeout_s: seconds to wait for the first HTTP 200.
        env: extra environment variables for the app's process (SEGDEMO_WEIGHTS_DIR, say).
        base_env: the environment they are added to (default: this process's).
        cwd: the checkout whose app.py runs (default: this one; a fresh clone, say).
        offline: set SEGDEMO_OFFLINE=1, so that no published file is fetched (tests stay on
            127.0.0.1); a test that blocks the network itself turns this off.

    Raises:
        AppDidNotStart: the process exited or did not answer within `timeout_s`.
    """
    port = free_port()
    env = {
        **(os.environ if base_env is None else base_env),
        **(env or {}),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    if offline:
        env["SEGDEMO_OFFLINE"] = "1"
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        while not _answers(url):
            if process.poll() is not None or time.monotonic() - started > timeout_s:
                raise AppDidNotStart(f"the app did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield RunningApp(url, process, log, time.monotonic() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def health(url: str) -> dict:
    """The app's /health, or {} when it has none (it is added just after the server starts: asked
    again for a few seconds)."""
    for _ in range(60):
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError:
            time.sleep(0.5)
    return {}


def warm_up_quiet(report: dict) -> bool:
    """Whether a /health report shows the app's start-up warm-up at rest: the last network it loads
    (app.warm_up: the small models one after another, then the photo tab's default networks whose
    weights are here) is loaded, and no network is running. Callers ask twice, a second apart."""
    from segdemo import registry
    from ui.tabs.photos import DEFAULT_MODELS

    models = report.get("models")
    if not models:
        return False
    last = [*registry.keys("eliret"), *(key for key in DEFAULT_MODELS if models[key]["weights"] == "present")][-1]
    return bool(models[last]["loaded"]) and report["networks_running"]["now"] == 0


def wait_for_warm_up(url: str, deadline: float) -> dict:
    """Waits until the app's start-up warm-up is at rest (`warm_up_quiet` on two looks a second
    apart) and returns the last /health.

    Raises:
        RuntimeError: the app answers no /health.
        TimeoutError: still busy at `deadline` (a `time.monotonic()` value).
    """
    idle = 0
    while True:
        report = health(url)
        if not report:
            raise RuntimeError(f"the app at {url} has no /health")
        idle = idle + 1 if warm_up_quiet(report) else 0
        if idle == 2:
            return report
        if time.monotonic() > deadline:
            raise TimeoutError("the app's warm-up did not finish in time")
        time.sleep(1)
