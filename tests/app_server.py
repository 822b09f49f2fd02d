"""The app launcher for tests: it lives in bench/app_server.py (benches use it too and never import
from tests/); the tests keep importing it as `app_server`."""

from bench.app_server import START_TIMEOUT_S, AppDidNotStart, RunningApp, free_port, running_app

__all__ = ["START_TIMEOUT_S", "AppDidNotStart", "RunningApp", "free_port", "running_app"]
