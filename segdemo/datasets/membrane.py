"""ISBI-2012 electron-microscopy slices as the lecture uses them (zhixuhao/unet's `data/membrane`).

Layout: `train/image/N.png` and `train/label/N.png` for slices 0–24 (labels: 255 = cell
interior, 0 = membrane) and `test/N.png` for 30 unlabelled slices, all 512×512 grey.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from segdemo import download, settings
from segdemo.datasets.fetch import DatasetMissingError, DatasetSource, cache_folder, locate, replace_folder

SOURCE = DatasetSource(
    name="membrane",
    url="http://www.lps.usp.br/hae/apostila/membrane.zip",
    marker="train/image/0.png",
    checksums_file="membrane.sha256.json",
)
# The original repository's files, fetched one by one when the course's zip cannot be had.
GITHUB_BASE = "https://raw.githubusercontent.com/zhixuhao/unet/b45af4d458437d8281cc218a07fd4380818ece4a/data/membrane/"
TRAIN_SLICES = range(20)
VALID_SLICES = range(20, 25)
# How a training's masks were reduced to the network's size (`load_slices`' soft_masks), as its
# metrics file names it.
LABEL_KINDS = {False: "reduced masks binarized at 0.5", True: "coverage fractions of the reduced masks"}


def folder(url: str | None = None, github_base: str = GITHUB_BASE) -> Path:
    """The membrane folder: local copy, cache, the course's zip, or the GitHub files."""
    try:
        return locate(SOURCE, url=url)
    except DatasetMissingError as first_error:
        if settings.get().offline:
            raise
        try:
            return fetch_from_github(cache_folder(SOURCE), github_base)
        except download.DownloadError as second_error:
            raise DatasetMissingError(f"{first_error} The GitHub fallback failed too: {second_error}") from second_error


def fetch_from_github(destination: Path, base_url: str = GITHUB_BASE) -> Path:
    """Downloads every listed file from the original repository, each sha256-verified (the
    checksum list is the pooch registry), into a staging folder moved into place when complete."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        staging = download.fetch_listed(base_url, SOURCE.checksums(), Path(scratch) / SOURCE.name)
        replace_folder(staging, destination)
    return destination


def read_slice(path: Path) -> np.ndarray:
    """A slice as uint8 H×W."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def load_slices(
    indices, root: Path | None = None, size: int | None = 128, soft_masks: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Images in [0, 1] and cell-interior masks (1 = cell, 0 = membrane), shape (N, S, S, 1).

    Slices are resized as lecture program 8 does (INTER_AREA); masks are re-binarized at 0.5,
    or, with `soft_masks`, keep the fraction of each reduced pixel that is cell interior.
    `size=None` keeps the full 512×512 resolution.
    """
    root = root or folder()
    images, masks = [], []
    for index in indices:
        image = read_slice(root / "train" / "image" / f"{index}.png").astype(np.float32) / 255.0
        mask = read_slice(root / "train" / "label" / f"{index}.png").astype(np.float32) / 255.0
        if size is not None:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        images.append(image)
        masks.append(np.clip(mask, 0.0, 1.0) if soft_masks else (mask >= 0.5).astype(np.float32))
    return np.stack(images)[..., None], np.stack(masks)[..., None]


def test_paths(root: Path | None = None) -> list[Path]:
    """The unlabelled test slices, in numeric order."""
    root = root or folder()
    return sorted((root / "test").glob("*.png"), key=lambda path: int(path.stem) if path.stem.isdigit() else 1 << 30)
