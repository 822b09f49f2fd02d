"""Downloading files safely: stream to `.part`, check size and sha256, rename atomically.

Used for datasets and for published weight files. Nothing here runs at import.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

ProgressCallback = Callable[[int, int | None], None]
CHUNK_BYTES = 1 << 20


class DownloadError(ValueError):
    """A download failed or its result did not verify."""


def sha256_of(path: str | os.PathLike, chunk_bytes: int = CHUNK_BYTES) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    destination: str | os.PathLike,
    *,
    expected_bytes: int | None = None,
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Downloads `url` to `destination` and returns the path.

    The file is streamed to `destination + ".part"`; only when its size (if given) and
    sha256 (if given) match is it renamed into place, so a half-written or wrong file is
    never seen by a loader.

    Args:
        url: http(s) or file URL.
        destination: final path of the file.
        expected_bytes: exact size the file must have, or None.
        sha256: hex digest the file must have, or None.
        progress: called as progress(bytes_so_far, total_or_None) while downloading.
        timeout: socket timeout in seconds.

    Raises:
        DownloadError: the host could not be reached, or the file did not verify.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "segdemo"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(partial, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else expected_bytes
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"Could not download {url}: {error}") from error
    if expected_bytes is not None and received != expected_bytes:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{url} gave {received:,} bytes, expected {expected_bytes:,} "
            "(a much smaller file is usually an error page)."
        )
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: sha256 {digest.hexdigest()} does not match the expected {sha256}.")
    os.replace(partial, destination)
    return destination


def safe_extract(archive: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Extracts a zip file into `folder`, refusing members that would land outside it."""
    folder = Path(folder).resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                target = (folder / member.filename).resolve()
                if folder not in target.parents and target != folder:
                    raise DownloadError(f"{archive}: member {member.filename!r} would extract outside {folder}")
            bundle.extractall(folder)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive} is not a valid zip file: {error}") from error
    return folder


def verify_files(folder: str | os.PathLike, checksums: dict[str, str]) -> None:
    """Checks that `folder` holds every file in `checksums` with the listed sha256.

    Raises:
        DownloadError: naming the first missing or different files.
    """
    folder = Path(folder)
    missing = [name for name in checksums if not (folder / name).is_file()]
    if missing:
        raise DownloadError(f"{folder}: {len(missing)} files missing, e.g. {', '.join(sorted(missing)[:5])}")
    different = [name for name, digest in checksums.items() if sha256_of(folder / name) != digest]
    if different:
        raise DownloadError(f"{folder}: {len(different)} files differ from the published ones, e.g. {different[:5]}")


def replace_folder(source: Path, destination: Path) -> None:
    """Moves `source` to `destination`, replacing what was there."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)
