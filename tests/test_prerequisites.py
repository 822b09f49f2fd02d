"""A missing prerequisite (the course's data, Playwright, Chromium, a committed file) skips a test
on a developer's machine and is an error in CI, through the real conftest fixture too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prerequisites import in_ci, missing, require_module

ROOT = Path(__file__).resolve().parent.parent
# A light test that needs the data folder (conftest's `data_dir`, through `eliret_dir`).
NEEDS_DATA = "tests/test_datasets.py::test_unknown_split"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("TRUE", True), ("", False), ("false", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_missing_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no data here"):
        missing("no data here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no data here .CI=true"):
        missing("no data here")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_for_segdemo is not installed"):
        require_module("no_such_module_for_segdemo")


def _run_without_data(ci: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(CI=ci, SEGDEMO_DATA_DIR=str(ROOT / "no_such_data_folder"))
    command = [sys.executable, "-m", "pytest", NEEDS_DATA, "-q", "-p", "no:cacheprovider", "--no-header", "-rsE"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_a_missing_data_folder_is_an_error_in_ci_and_a_skip_elsewhere():
    local = _run_without_data("")
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout[-2000:]
    ci = _run_without_data("true")
    assert ci.returncode != 0 and "1 error" in ci.stdout, ci.stdout[-2000:]
    assert "the course's data is not available" in ci.stdout
