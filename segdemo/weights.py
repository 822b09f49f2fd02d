"""Where weights come from.

Trained models (eliret, membrane) ship in the repository's `weights/` folder as Keras 3
`.weights.h5` files. Published pretrained files (PSPNet) are resolved, in order, from:

1. the weights folder (`weights/` or SEGDEMO_WEIGHTS_DIR) holding the published file name
   (a Keras-2 HDF5 file) or its Keras 3 conversion;
2. the download cache, when an earlier download succeeded;
3. a Hugging Face Hub repository holding the Keras 3 conversion (`hf_hub_download` with a
   pinned revision), named in the manifest or by SEGDEMO_HF_REPO / SEGDEMO_HF_REVISION;
4. the published URLs, streamed to a `.part` file, size- and checksum-checked, renamed atomically.

SEGDEMO_OFFLINE=1 skips 3 and 4 (a classroom without internet answers at once).

`weights/manifest.json` (data, not code) lists names, sources, sizes and checksums.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
    """A weights file on disk and how to read it."""

    path: Path
    layout: str  # KERAS3 or LEGACY
    sha256: str | None = None


def local_path(spec: ModelSpec) -> Path:
    """Where the weights of a trained model are expected in the weights folder."""
    return settings.weights_dir() / spec.weights_file


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
            f"The weights of {spec.title} are missing: expected {path}; train them with `python -m train {spec.key}`."
        )
    entries = manifest()
    if spec.published_weights not in entries:
        raise WeightsMissingError(f"{spec.title}: no entry {spec.published_weights!r} in {MANIFEST_PATH}.")
    return resolve_published(entries[spec.published_weights], spec.title, progress)


def resolve_published(entry: dict, title: str, progress=None) -> WeightsFile:
    """Resolves one manifest entry (see the module docstring for the order)."""
    found = _on_disk(entry)
    if found is not None:
        return found
    folder = settings.weights_dir()
    cache = settings.cache_dir() / "weights"
    converted = entry["converted"]
    tried = []
    if os.environ.get("SEGDEMO_OFFLINE") == "1":
        raise WeightsMissingError(
            f"The weights of {title} are missing: put {entry['file']} or its conversion {converted['file']} "
            f"into {folder} (downloads are disabled by SEGDEMO_OFFLINE=1)."
        )
    hub_file = _from_hub(entry, tried)
    if hub_file is not None:
        return hub_file
    for url in entry.get("urls", []):
        if _recently_failed(url):
            tried.append(f"{url} (failed less than {RETRY_AFTER_S // 60} min ago)")
            continue
        try:
            path = download.download(url, cache / entry["file"], expected_bytes=entry.get("bytes"), sha256=entry.get("sha256"), progress=progress)
            return WeightsFile(path, LEGACY, entry.get("sha256"))
        except download.DownloadError as error:
            _failures[url] = time.monotonic()
            tried.append(str(error))
    raise WeightsMissingError(
        f"The weights of {title} are missing: put {entry['file']} (from {', '.join(entry.get('urls', [])[:1])}) "
        f"or its conversion {converted['file']} into {folder}. Tried: " + "; ".join(tried or ["nothing"])
    )


def _on_disk(entry: dict) -> WeightsFile | None:
    """The published file (weights folder, then download cache) or its Keras 3 conversion
    in the weights folder, when one is on this machine."""
    folder = settings.weights_dir()
    for candidate in (folder / entry["file"], settings.cache_dir() / "weights" / entry["file"]):
        if candidate.is_file():
            return WeightsFile(candidate, LEGACY, entry.get("sha256"))
    converted = entry["converted"]
    if (folder / converted["file"]).is_file():
        return WeightsFile(folder / converted["file"], KERAS3, converted.get("sha256"))
    return None


def converted_cache_path(source: WeightsFile) -> Path:
    """Where the Keras 3 copy of a Keras-2 file is cached, keyed by the source's sha256, so
    that a different file with the same name never loads an old conversion."""
    digest = source.sha256 or _file_digest(source.path)
    return settings.cache_dir() / "weights" / "converted" / f"{source.path.stem}-{digest[:16]}.weights.h5"


_digests: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime): the two PSPNet pipelines and a
    reload after the LRU cache let a model go would otherwise hash 263 MB each time."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = download.sha256_of(path)
    return _digests[key]


def available(spec: ModelSpec) -> bool:
    """Whether the weights of `spec` are on this machine (nothing is downloaded)."""
    if spec.published_weights is None:
        return local_path(spec).is_file()
    entry = manifest().get(spec.published_weights)
    return entry is not None and _on_disk(entry) is not None


def hub_settings(entry: dict) -> tuple[str | None, str | None]:
    """(repo_id, revision) from the environment or, failing that, the manifest."""
    hub = entry.get("hub") or {}
    return os.environ.get("SEGDEMO_HF_REPO") or hub.get("repo_id"), os.environ.get("SEGDEMO_HF_REVISION") or hub.get("revision")


def _from_hub(entry: dict, tried: list[str]) -> WeightsFile | None:
    repo_id, revision = hub_settings(entry)
    if not repo_id:
        return None
    converted = entry["converted"]
    source = f"hub:{repo_id}@{revision}/{converted['file']}"
    if _recently_failed(source):
        tried.append(f"{source} (failed less than {RETRY_AFTER_S // 60} min ago)")
        return None
    try:
        from huggingface_hub import hf_hub_download

        # The Hub's own cache (HF_HOME / HF_HUB_CACHE): where a Space's preload_from_hub puts files.
        path = Path(hf_hub_download(repo_id, converted["file"], revision=revision))
    except Exception as error:  # the hub client raises many kinds (network, 404, auth)
        _failures[source] = time.monotonic()
        tried.append(f"{source}: {type(error).__name__}: {error}".splitlines()[0])
        return None
    expected = converted.get("sha256")
    if expected and download.sha256_of(path) != expected:
        tried.append(f"{source}: sha256 does not match the manifest")
        return None
    return WeightsFile(path, KERAS3, expected)


def _recently_failed(source: str) -> bool:
    failed_at = _failures.get(source)
    return failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER_S


def forget_failures() -> None:
    """Lets every source be tried again at once (tests, or after the network comes back)."""
    _failures.clear()
