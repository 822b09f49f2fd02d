"""Where weights come from.

Trained models (eliret, membrane) ship in the repository's `weights/` folder. Published
pretrained files (PSPNet) are resolved, in order, from the weights folder, a Hugging Face Hub
repository, or their public URLs; `weights/manifest.json` (data, not code) lists their names,
sources, sizes and checksums.
"""

from __future__ import annotations

import json
from pathlib import Path

from segdemo import settings
from segdemo.registry import ModelSpec


class WeightsMissingError(ValueError):
    """A model's weights are not on this machine and could not be fetched."""


def local_path(spec: ModelSpec) -> Path:
    """Where the weights of `spec` are expected in the weights folder."""
    return settings.weights_dir() / spec.weights_file


def manifest(path: Path | None = None) -> dict:
    """The weights manifest (empty when there is none)."""
    path = path or settings.PROJECT_ROOT / "weights" / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def resolve(spec: ModelSpec) -> Path:
    """The path of the weights of `spec`.

    Raises:
        WeightsMissingError: with a message that names the file and how to get it.
    """
    path = local_path(spec)
    if path.is_file():
        return path
    hint = f"train them with `python -m train {spec.key}`" if spec.family in ("eliret", "membrane") else "see the README"
    raise WeightsMissingError(f"The weights of {spec.title} are missing: expected {path}; {hint}.")
