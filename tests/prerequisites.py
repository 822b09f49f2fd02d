"""What the suite needs from the machine: the course's data, Playwright, Debian's Chromium and the
committed weights.

On a developer's machine a missing prerequisite skips the tests that need it. In CI (CI=true, as
GitHub Actions and most CI services set it) it is an error: a failed Chromium install or a data
folder that did not arrive must not leave the run green with a few dozen tests quietly skipped.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the environment variable CI says so (true, 1 or yes, any case)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> NoReturn:
    """Skips the test (or the module, during collection) for `reason`; fails it in CI.

    Args:
        reason: what is missing and how to get it, in one sentence.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is an error, not a skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Imports `name`, or calls `missing` when it is not installed.

    Args:
        name: the module, e.g. "playwright.sync_api".
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"{name} is not installed ({error}; make test-browser installs it)")
