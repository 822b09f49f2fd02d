"""Downloads through pooch: one verified file, or a folder of files listed with their sha256.

pooch streams each file to a temporary name beside its destination, checks its sha256 and
only then moves it into place, so a loader never sees a half-written or wrong file. This
module adds what pooch does not do by itself: an exact size check (a much smaller answer is
usually an error page), a progress callback, and one error type with a readable message.
Nothing here runs at import; pooch and requests are imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ProgressCallback = Callable[[int, int | None], None]
TIMEOUT_S = 30.0


class DownloadError(ValueError):
    """A download failed or its result did not verify."""


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file (pooch's own hashing, read in chunks)."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


class _Progress:
    """The progress-bar object pooch's HTTPDownloader drives, reporting to a callback."""

    def __init__(self, callback: ProgressCallback, expected_bytes: int | None) -> None:
        self.callback, self.total, self.done = callback, expected_bytes, 0

    def update(self, count: int) -> None:
        self.done += count
        self.callback(min(self.done, self.total) if self.total else self.done, self.total)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _downloader(expected_bytes: int | None, progress: ProgressCallback | None):
    """pooch's HTTP downloader, followed by the size check on the temporary file (a
    ValueError there makes pooch delete it before anything is moved into place)."""
    import pooch

    http = pooch.HTTPDownloader(
        progressbar=_Progress(progress, expected_bytes) if progress else False,
        timeout=TIMEOUT_S,
        headers={"User-Agent": "segdemo"},
    )

    def download(url: str, output_file: str, pup) -> None:
        http(url, output_file, pup)
        received = os.path.getsize(output_file)
        if expected_bytes is not None and received != expected_bytes:
            raise ValueError(
                f"{url} gave {received:,} bytes, expected {expected_bytes:,} (a much smaller file is usually an error page)."
            )

    return download


def _failure(url: str, error: Exception) -> DownloadError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DownloadError(f"Could not download {url}: {text}")


def fetch_file(
    url: str,
    destination: str | os.PathLike,
    *,
    sha256: str | None = None,
    expected_bytes: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Downloads `url` to `destination` (verified) and returns the path.

    An existing file with the right sha256 is returned without a download; one with another
    sha256 is downloaded again (pooch's "update").

    Args:
        url: an http(s) URL.
        destination: the final path of the file.
        sha256: the hex digest the file must have, or None (then only the size is checked).
        expected_bytes: the exact size the file must have, or None.
        progress: called as progress(bytes_so_far, total_or_None) while downloading.

    Raises:
        DownloadError: the host could not be reached, or the file did not verify.
    """
    import pooch
    import requests

    destination = Path(destination)
    try:
        found = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256.lower()}" if sha256 else None,
            fname=destination.name,
            path=destination.parent,
            downloader=_downloader(expected_bytes, progress),
        )
    except (requests.RequestException, OSError, ValueError) as error:
        raise _failure(url, error) from error
    return Path(found)


def fetch_listed(base_url: str, checksums: dict[str, str], destination: str | os.PathLike) -> Path:
    """Downloads every file of a pooch registry (relative path -> sha256) under `base_url` into
    `destination`, each sha256-checked; files already there with the right digest are kept.

    Raises:
        DownloadError: naming the first file that could not be had or did not verify.
    """
    import pooch
    import requests

    store = pooch.create(path=Path(destination), base_url=base_url, registry=dict(checksums), retry_if_failed=0)
    for name in checksums:
        try:
            store.fetch(name, downloader=_downloader(None, None))
        except (requests.RequestException, OSError, ValueError) as error:
            raise _failure(store.get_url(name), error) from error
    return Path(destination)
