"""The course's eliret set: 32×32 noisy ellipses and rectangles with binary masks.

Format: a folder of `NNNx.png` (input) / `NNNy.png` (mask, 255 = object) with
`treino.csv`, `valida.csv` and `teste.csv` listing `x;y` pairs, plus the larger
`maior1`/`maior2` images with four objects each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segdemo.datasets.fetch import DatasetSource, locate

SOURCE = DatasetSource(
    name="eliret",
    url="http://www.lps.usp.br/hae/apostila/segm_eliret.zip",
    marker="treino.csv",
    checksums_file="eliret.sha256.json",
)
SPLITS = {"train": "treino.csv", "valid": "valida.csv", "test": "teste.csv"}
LARGE_IMAGES = ("maior1", "maior2")


def folder(url: str | None = None) -> Path:
    """The eliret folder (local copy, cache, or a verified download)."""
    return locate(SOURCE, url=url)


def read_grey(path: Path) -> np.ndarray:
    """A PNG as a float32 H×W array in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def split_pairs(split: str, root: Path | None = None) -> list[tuple[Path, Path]]:
    """The (image, mask) paths of a split, in the csv file's order."""
    if split not in SPLITS:
        raise ValueError(f"Unknown eliret split {split!r}; choose one of {', '.join(SPLITS)}.")
    root = root or folder()
    pairs = []
    for line in (root / SPLITS[split]).read_text().splitlines():
        if line.strip():
            image_name, mask_name = (part.strip() for part in line.split(";"))
            pairs.append((root / image_name, root / mask_name))
    return pairs


def load_split(split: str, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and masks of a split as float32 arrays of shape (N, 32, 32, 1) in [0, 1]."""
    pairs = split_pairs(split, root)
    images = np.stack([read_grey(image) for image, _ in pairs])[..., None]
    masks = np.stack([read_grey(mask) for _, mask in pairs])[..., None]
    return images, (masks >= 0.5).astype(np.float32)


def large_pairs(root: Path | None = None) -> list[tuple[Path, Path]]:
    """(image, mask) paths of the larger images with four objects each."""
    root = root or folder()
    return [(root / f"{name}x.png", root / f"{name}y.png") for name in LARGE_IMAGES]
