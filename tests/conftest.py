"""Shared fixtures. Tests use the course's data beside the checkout (SEGDEMO_DATA_DIR, set by
the Makefile) and never touch the user's download cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "SEGDEMO_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["SEGDEMO_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty download cache."""
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SEGDEMO_DATA_DIR")
    if not value or not (Path(value) / "eliret" / "treino.csv").exists():
        pytest.skip("the course's data is not available (set SEGDEMO_DATA_DIR)")
    return Path(value)


@pytest.fixture(scope="session")
def eliret_dir(data_dir) -> Path:
    return data_dir / "eliret"


@pytest.fixture(scope="session")
def membrane_dir(data_dir) -> Path:
    return data_dir / "membrane"
