"""The app launcher for tests: it lives in bench/app_server.py (benches use it too and never import
from tests/); the tests keep importing it as `app_server`. The session's shared apps are
conftest's `default_app` and `pspnet_app` fixtures."""

from bench.app_server import START_TIMEOUT_S, AppDidNotStart, RunningApp, free_port, running_app

__all__ = ["SEEDED_PSPNETS", "SEEDED_PSPNET_SEED", "START_TIMEOUT_S", "AppDidNotStart", "RunningApp", "free_port", "running_app"]

# The PSPNets of the shared `pspnet_app` (random weights, seeded): the photo tab shows both side by side.
SEEDED_PSPNETS = ("pspnet_voc", "pspnet_ade20k")
SEEDED_PSPNET_SEED = 1
