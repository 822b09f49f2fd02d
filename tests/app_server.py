"""Starts the real app (`python app.py`) on a free local port, for tests and benches.

Used by tests/test_bad_inputs.py, tests/test_browser.py and bench/load.py. The app runs in
its own process, so what it does to memory, threads or Pillow settings stays there.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180


class AppDidNotStart(RuntimeError):
    """The app exited or did not answer HTTP 200 in time; the message ends with its log."""


@dataclass(frozen=True)
class RunningApp:
    """A started app: its base URL, process and log file."""

    url: str
    process: subprocess.Popen
    log: Path

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
def running_app(log: Path, timeout_s: float = START_TIMEOUT_S) -> Iterator[RunningApp]:
    """Runs app.py on 127.0.0.1 and a free port until the block ends.

    Raises:
        AppDidNotStart: the process exited or did not answer within `timeout_s`.
    """
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}/", process, log)
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(app.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AppDidNotStart(f"the app did not start:\n{app.log_tail()}")
            time.sleep(0.5)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
