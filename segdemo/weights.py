"""Where weights come from.

Trained models (eliret, membrane) ship in the repository's `weights/` folder as Keras 3
`.weights.h5` files. Every weights folder is searched: the folders named by SEGDEMO_WEIGHTS_DIR
first, then the repository's `weights/` (so a folder holding only the published PSPNet files
leaves the shipped models working). Published pretrained files (PSPNet) are resolved, in order, from:

1. the weights folders holding the published file name (a Keras-2 HDF5 file) or its Keras 3
   conversion, then the download cache;
2. the Hugging Face Hub cache (HF_HOME / HF_HUB_CACHE: where a Space's `preload_from_hub` puts
   files), looked up with `try_to_load_from_cache` at the pinned revision, without any network;
3. the Hub itself (`hf_hub_download` at the pinned revision; `local_files_only=True` when offline),
   for a repository named in the manifest or by SEGDEMO_HF_REPO / SEGDEMO_HF_REVISION;
4. the published URLs, through pooch (temporary file, size check, atomic rename).

Offline (SEGDEMO_OFFLINE or HF_HUB_OFFLINE) skips the network in 3 and 4; 1 and 2 still count.

Checksums: `weights/manifest.json` records each file's size and, where known, its sha256. The
published Keras-2 files' sha256 is not recorded (they could not be downloaded when the manifest
was written), so for them only the size of a download is checked; a sha256 is checked whenever
the manifest has one (a file found on disk included), and the Hub conversions get theirs when
`python -m train.publish_pspnet` publishes them. Digests are computed once per file (path, size
and modification time), not on every load.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segdemo import download, settings
from segdemo.registry import ModelSpec

KERAS3 = "keras3"
LEGACY = "legacy"  # Keras-2 `save_weights` HDF5, read by segdemo.legacy_h5
RETRY_AFTER_S = 300  # a source that just failed is not asked again for this long
MANIFEST_PATH = settings.PROJECT_ROOT / "weights" / "manifest.json"

_failures: dict[str, float] = {}


class WeightsMissingError(ValueError):
    """A model's weights are not on this machine and could not be fetched."""


@dataclass(frozen=True)
class WeightsFile:
    """A weights file on disk and how to read it.

    Attributes:
        path: the file.
        layout: KERAS3 or LEGACY.
        sha256: the file's digest when it has been checked (or computed), else None.
    """

    path: Path
    layout: str
    sha256: str | None = None


def local_path(spec: ModelSpec) -> Path:
    """Where the weights of a trained model are: the first weights folder that holds them, or,
    when none does, where they are expected (the first weights folder)."""
    folders = settings.weights_dirs()
    return next(
        (folder / spec.weights_file for folder in folders if (folder / spec.weights_file).is_file()),
        folders[0] / spec.weights_file,
    )


def manifest(path: Path | None = None) -> dict:
    """The weights manifest: published model name -> entry (empty when there is none)."""
    path = path or MANIFEST_PATH
    return json.loads(path.read_text())["published"] if path.exists() else {}


def resolve(spec: ModelSpec, progress: Callable[[int, int | None], None] | None = None) -> WeightsFile:
    """The weights file of `spec`, fetching published weights when needed.

    Raises:
        WeightsMissingError: with a message that names the file and where to put it.
    """
    if spec.published_weights is None:
        path = local_path(spec)
        if path.is_file():
            return WeightsFile(path, KERAS3)
        raise WeightsMissingError(
            f"The weights of {spec.title} are missing: expected {spec.weights_file} in "
            f"{' or '.join(str(folder) for folder in settings.weights_dirs())}; train them with `python -m train {spec.key}`."
        )
    entries = manifest()
    if spec.published_weights not in entries:
        raise WeightsMissingError(f"{spec.title}: no entry {spec.published_weights!r} in {MANIFEST_PATH}.")
    return resolve_published(entries[spec.published_weights], spec.title, progress)


def resolve_published(entry: dict, title: str, progress=None) -> WeightsFile:
    """Resolves one manifest entry (see the module docstring for the order).

    Raises:
        WeightsMissingError: naming the file, where to put it and what was tried.
    """
    found = _on_disk(entry)
    if found is not None:
        return _checked(found, title, _expected_sha256(entry, found.layout))
    tried: list[str] = []
    hub_file = _from_hub(entry, tried)
    if hub_file is not None:
        return hub_file
    offline = settings.get().offline
    if offline:
        tried.append("no download: SEGDEMO_OFFLINE or HF_HUB_OFFLINE is set")
    else:
        downloaded = _from_urls(entry, tried, progress)
        if downloaded is not None:
            return downloaded
    converted = entry["converted"]
    raise WeightsMissingError(
        f"The weights of {title} are missing: put {entry['file']} (from {', '.join(entry.get('urls', [])[:1])}) "
        f"or its conversion {converted['file']} into {settings.weights_dir()}. Tried: " + "; ".join(tried or ["nothing"])
    )


def _on_disk(entry: dict) -> WeightsFile | None:
    """The published file or its Keras 3 conversion in a weights folder, or the published
    file in the download cache, when one is on this machine (nothing is read)."""
    converted = entry["converted"]
    for folder in settings.weights_dirs():
        if (folder / entry["file"]).is_file():
            return WeightsFile(folder / entry["file"], LEGACY)
        if (folder / converted["file"]).is_file():
            return WeightsFile(folder / converted["file"], KERAS3)
    cached = settings.cache_dir() / "weights" / entry["file"]
    return WeightsFile(cached, LEGACY) if cached.is_file() else None


def _expected_sha256(entry: dict, layout: str) -> str | None:
    return (entry["converted"] if layout == KERAS3 else entry).get("sha256")


def _checked(found: WeightsFile, title: str, expected: str | None = None) -> WeightsFile:
    """`found` with its sha256, checked against `expected` when there is one (memoised digest).

    Raises:
        WeightsMissingError: the file differs from the one the manifest names.
    """
    if expected is None:
        return found
    digest = file_digest(found.path)
    if digest != expected.lower():
        raise WeightsMissingError(
            f"The weights of {title}: {found.path} has sha256 {digest}, the manifest expects {expected}; "
            "it is not the published file (replace it, or remove it to let the app fetch the right one)."
        )
    return WeightsFile(found.path, found.layout, digest)


def converted_cache_path(source: WeightsFile) -> Path:
    """Where the Keras 3 copy of a Keras-2 file is cached, keyed by the source's sha256, so
    that a different file with the same name never loads an old conversion."""
    digest = source.sha256 or file_digest(source.path)
    return settings.cache_dir() / "weights" / "converted" / f"{source.path.stem}-{digest[:16]}.weights.h5"


_digests: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime): the two PSPNet pipelines and a
    reload after the LRU cache let a model go would otherwise hash 263 MB each time."""
    stat = Path(path).stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _digest_lock:
        known = _digests.get(key)
    if known is None:
        known = download.sha256_of(path)
        with _digest_lock:
            _digests[key] = known
    return known


def available(spec: ModelSpec) -> bool:
    """Whether the weights of `spec` are on this machine: a weights folder, the download cache
    or the Hub cache (nothing is downloaded, nothing is hashed)."""
    if spec.published_weights is None:
        return local_path(spec).is_file()
    entry = manifest().get(spec.published_weights)
    return entry is not None and (_on_disk(entry) is not None or _hub_cached(entry) is not None)


def hub_settings(entry: dict) -> tuple[str | None, str | None]:
    """(repo_id, revision) from the settings (SEGDEMO_HF_REPO / SEGDEMO_HF_REVISION) or, failing that, the manifest."""
    hub = entry.get("hub") or {}
    current = settings.get()
    return current.hf_repo or hub.get("repo_id"), current.hf_revision or hub.get("revision")


def _hub_cached(entry: dict) -> Path | None:
    """The conversion in the Hub cache at the pinned revision, or None (no network)."""
    repo_id, revision = hub_settings(entry)
    if not repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, entry["converted"]["file"], revision=revision)
    return Path(found) if isinstance(found, str) else None


def _from_hub(entry: dict, tried: list[str]) -> WeightsFile | None:
    """The conversion from the Hub cache, or downloaded from the Hub when online."""
    repo_id, revision = hub_settings(entry)
    if not repo_id:
        return None
    converted = entry["converted"]
    source = f"hub:{repo_id}@{revision}/{converted['file']}"
    path = _hub_cached(entry)
    if path is None:
        if _recently_failed(source):
            tried.append(f"{source} (failed less than {RETRY_AFTER_S // 60} min ago)")
            return None
        from huggingface_hub import hf_hub_download

        offline = settings.get().offline
        try:
            # local_files_only: offline, the client only looks in its cache and never asks the network.
            path = Path(hf_hub_download(repo_id, converted["file"], revision=revision, local_files_only=offline))
        except Exception as error:  # noqa: BLE001 - the hub client raises many kinds (network, 404, auth, not cached)
            if not offline:  # offline nothing was asked: nothing to hold back
                _failures[source] = time.monotonic()
            tried.append(f"{source}: {type(error).__name__}: {error}".splitlines()[0])
            return None
    try:
        return _checked(WeightsFile(path, KERAS3), source, converted.get("sha256"))
    except WeightsMissingError as error:
        tried.append(str(error))
        return None


def _from_urls(entry: dict, tried: list[str], progress) -> WeightsFile | None:
    """The published Keras-2 file, downloaded into the cache (size- and, when known, sha256-checked)."""
    destination = settings.cache_dir() / "weights" / entry["file"]
    for url in entry.get("urls", []):
        if _recently_failed(url):
            tried.append(f"{url} (failed less than {RETRY_AFTER_S // 60} min ago)")
            continue
        try:
            path = download.fetch_file(
                url, destination, sha256=entry.get("sha256"), expected_bytes=entry.get("bytes"), progress=progress
            )
        except download.DownloadError as error:
            _failures[url] = time.monotonic()
            tried.append(str(error))
            continue
        return WeightsFile(path, LEGACY, entry.get("sha256"))
    return None


def _recently_failed(source: str) -> bool:
    failed_at = _failures.get(source)
    return failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER_S


def forget_failures() -> None:
    """Lets every source be tried again at once (tests, or after the network comes back)."""
    _failures.clear()
