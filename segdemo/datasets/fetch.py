"""Finding a dataset folder: a local copy, the download cache, or a fresh verified download.

Downloads go through pooch (`segdemo.download`); `*.sha256.json` beside this module is each
dataset's pooch registry: every file's path relative to the dataset folder and its sha256.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from segdemo import download, settings


class DatasetMissingError(ValueError):
    """The dataset is not on this machine and could not be downloaded."""


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and how to recognise and verify it.

    Attributes:
        name: folder name under SEGDEMO_DATA_DIR and under the cache.
        url: the public address of the zip file.
        marker: a path (relative to the dataset folder) that identifies the folder inside the zip.
        checksums_file: JSON file beside this module: relative path -> sha256 of every file.
    """

    name: str
    url: str
    marker: str
    checksums_file: str

    def checksums(self) -> dict[str, str]:
        return json.loads((Path(__file__).parent / self.checksums_file).read_text())


def cache_folder(source: DatasetSource) -> Path:
    """Where a downloaded copy of `source` is kept."""
    return settings.cache_dir() / "datasets" / source.name


def locate(source: DatasetSource, *, url: str | None = None, allow_download: bool = True) -> Path:
    """Returns the folder of `source`, downloading and verifying it when needed.

    Order: `$SEGDEMO_DATA_DIR/<name>`, then the verified copy in the cache, then a download
    of `url` (default: the source's public address) into the cache. SEGDEMO_OFFLINE (or
    HF_HUB_OFFLINE) turns downloads off as `allow_download=False` does.

    Raises:
        DatasetMissingError: with a message that says where to put the files.
    """
    local = settings.data_dir()
    if local is not None and (local / source.name / source.marker).exists():
        return local / source.name
    cached = cache_folder(source)
    if (cached / source.marker).exists():
        return cached
    url = url or source.url
    if not allow_download:
        raise DatasetMissingError(missing_message(source, url, "downloads are disabled"))
    if settings.get().offline:
        raise DatasetMissingError(missing_message(source, url, "downloads are disabled by the offline setting"))
    try:
        return fetch(source, cached, url)
    except download.DownloadError as error:
        raise DatasetMissingError(missing_message(source, url, str(error))) from error


def fetch(source: DatasetSource, destination: Path, url: str) -> Path:
    """Downloads the zip at `url`, extracts it, verifies every file and moves it to `destination`.

    Raises:
        download.DownloadError: the zip could not be had, lacks the marker, or a file differs.
    """
    import zipfile

    import pooch

    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        archive = download.fetch_file(url, Path(scratch) / f"{source.name}.zip")
        try:
            # zipfile drops ".." and leading "/" from member names: nothing lands outside `scratch`.
            pooch.Unzip(extract_dir="extracted")(str(archive), "download", None)
        except zipfile.BadZipFile as error:
            raise download.DownloadError(f"{url} is not a valid zip file: {error}") from error
        extracted = Path(scratch) / "extracted"
        # The zip may hold the files at its root or inside a folder: find the folder with the marker.
        candidates = [extracted, *(path for path in sorted(extracted.rglob("*")) if path.is_dir())]
        folder = next((path for path in candidates if (path / source.marker).exists()), None)
        if folder is None:
            raise download.DownloadError(f"{url}: the archive does not contain {source.marker}")
        verify_files(folder, source.checksums())
        replace_folder(folder, destination)
    return destination


def verify_files(folder: Path, checksums: dict[str, str]) -> None:
    """Checks that `folder` holds every file in `checksums` with the listed sha256.

    Raises:
        download.DownloadError: naming the first missing or different files.
    """
    missing = [name for name in checksums if not (folder / name).is_file()]
    if missing:
        raise download.DownloadError(f"{folder}: {len(missing)} files missing, e.g. {', '.join(sorted(missing)[:5])}")
    different = [name for name, digest in checksums.items() if download.sha256_of(folder / name) != digest]
    if different:
        raise download.DownloadError(f"{folder}: {len(different)} files differ from the published ones, e.g. {different[:5]}")


def replace_folder(source: Path, destination: Path) -> None:
    """Moves `source` to `destination`, replacing what was there."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)


def missing_message(source: DatasetSource, url: str, reason: str) -> str:
    """What to tell a user who has no copy of `source` and could not download it."""
    return (
        f"The {source.name} dataset is not available: {reason}. "
        f"Either put its files in a folder '{source.name}' inside the folder named by SEGDEMO_DATA_DIR "
        f"(it must contain {source.marker}), or download {url} and unzip it into {cache_folder(source)}."
    )
