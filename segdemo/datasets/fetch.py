"""Finding a dataset folder: a local copy, the download cache, or a fresh verified download."""

from __future__ import annotations

import json
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


def locate(source: DatasetSource, *, url: str | None = None, allow_download: bool = True) -> Path:
    """Returns the folder of `source`, downloading and verifying it when needed.

    Order: `$SEGDEMO_DATA_DIR/<name>`, then the verified copy in the cache, then a download
    of `url` (default: the source's public address) into the cache.

    Raises:
        DatasetMissingError: with a message that says where to put the files.
    """
    local = settings.data_dir()
    if local is not None and (local / source.name / source.marker).exists():
        return local / source.name
    cached = settings.cache_dir() / "datasets" / source.name
    if (cached / source.marker).exists():
        return cached
    url = url or source.url
    if not allow_download:
        raise DatasetMissingError(_missing_message(source, url, "downloads are disabled"))
    try:
        return fetch(source, cached, url)
    except download.DownloadError as error:
        raise DatasetMissingError(_missing_message(source, url, str(error))) from error


def fetch(source: DatasetSource, destination: Path, url: str) -> Path:
    """Downloads the zip at `url`, extracts it, verifies every file and moves it to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        archive = download.download(url, Path(scratch) / f"{source.name}.zip")
        extracted = download.safe_extract(archive, Path(scratch) / "extracted")
        # The zip may hold the files at its root or inside a folder: find the folder with the marker.
        candidates = [extracted, *(path for path in sorted(extracted.rglob("*")) if path.is_dir())]
        folder = next((path for path in candidates if (path / source.marker).exists()), None)
        if folder is None:
            raise download.DownloadError(f"{url}: the archive does not contain {source.marker}")
        download.verify_files(folder, source.checksums())
        download.replace_folder(folder, destination)
    return destination


def _missing_message(source: DatasetSource, url: str, reason: str) -> str:
    return (
        f"The {source.name} dataset is not available: {reason}. "
        f"Either put its files in a folder '{source.name}' inside the folder named by SEGDEMO_DATA_DIR "
        f"(it must contain {source.marker}), or download {url} and unzip it into "
        f"{settings.cache_dir() / 'datasets' / source.name}."
    )
