"""Where things live. Every location can be changed with an environment variable.

- SEGDEMO_DATA_DIR: a folder holding local copies of the datasets (`eliret/`, `membrane/`,
  `photos/`); tests and CI point it at the course's shared data.
- SEGDEMO_CACHE_DIR: where downloaded datasets and weights are kept (default ~/.cache/segdemo).
- SEGDEMO_WEIGHTS_DIR: the weights folder (default: the repository's `weights/`).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path | None:
    """The local dataset folder named by SEGDEMO_DATA_DIR, or None."""
    value = os.environ.get("SEGDEMO_DATA_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The folder for downloads and caches."""
    value = os.environ.get("SEGDEMO_CACHE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "segdemo"


def weights_dir() -> Path:
    """The folder holding trained and downloaded weights."""
    value = os.environ.get("SEGDEMO_WEIGHTS_DIR")
    return Path(value).expanduser() if value else PROJECT_ROOT / "weights"
