"""A bounded cache of network outputs, so that re-rendering never runs a network again.

Entries are keyed by (image content digest, model, pipeline, the engine and number format, the model's load) and hold what the
network and the postprocessing stage gave for that image: the raw output (`LoadedModel.raw`)
and the dense maps at the image's resolution (`segdemo.pipelines.Dense`). A new threshold,
opacity or class highlight only re-renders them. The cache is bounded by bytes
(SEGDEMO_OUTPUT_CACHE_MB, read with the other settings by `segdemo.settings`, default 512); the
least recently used entries leave first.

The dense maps of a 12-megapixel photo take about 100 MB, the raw output of a PSPNet 0.3 to 2 MB.
So the raw outputs are kept apart too, in a quarter of the budget: when a class of 60 sends photos
at once, the dense maps of the first ones have left before their views are drawn, and only the
postprocessing runs again (a tenth of a second), never the network (a second or more).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from segdemo import settings
from segdemo.pipelines import Dense, Prepared


@dataclass(frozen=True)
class CachedOutput:
    """One model's outputs for one image."""

    raw: np.ndarray
    prepared_shape: tuple[int, ...]
    image_size: tuple[int, int]
    valid: tuple[int, int]
    dense: Dense
    mode: str = ""
    """What computed the raw output ("OpenVINO int8", "TensorFlow float32")."""

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes + self.dense.nbytes


@dataclass(frozen=True)
class RawOutput:
    """One model's raw output for one image, with what postprocessing it again needs."""

    raw: np.ndarray
    prepared_shape: tuple[int, ...]
    image_size: tuple[int, int]
    valid: tuple[int, int]
    mode: str = ""

    def prepared(self) -> Prepared:
        """The `Prepared` the postprocessing reads (its size and valid region; the batch itself is
        not kept: a zero-stride view of the right shape stands in)."""
        return Prepared(batch=np.broadcast_to(np.float32(0), self.prepared_shape), image_size=self.image_size, valid=self.valid)


def image_digest(pixels: np.ndarray) -> str:
    """A digest of the image's content (its decoded pixels, shape and type)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{pixels.shape}{pixels.dtype}".encode())
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()


def budget_bytes() -> int:
    """The cache's size limit in bytes, from the settings (SEGDEMO_OUTPUT_CACHE_MB).

    Raises:
        SettingsError: SEGDEMO_OUTPUT_CACHE_MB (or another setting) holds a value the app cannot use.
    """
    return settings.get().output_cache_mb * 2**20


class OutputCache:
    """A thread-safe LRU mapping of output keys to `CachedOutput`, bounded by bytes."""

    def __init__(self, budget: int | None = None, raw_budget: int | None = None) -> None:
        """Args:
        budget: bytes for whole entries (None: SEGDEMO_OUTPUT_CACHE_MB).
        raw_budget: bytes for the raw outputs kept apart (None: a quarter of `budget`).
        """
        self._budget = budget
        self._raw_budget = raw_budget
        self._entries: OrderedDict[tuple, CachedOutput] = OrderedDict()
        self._bytes = 0
        self._raws: OrderedDict[tuple, RawOutput] = OrderedDict()
        self._raw_bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.raw_hits = 0

    @property
    def budget(self) -> int:
        return budget_bytes() if self._budget is None else self._budget

    @property
    def raw_budget(self) -> int:
        return self.budget // 4 if self._raw_budget is None else self._raw_budget

    def get(self, key: tuple) -> CachedOutput | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def get_raw(self, key: tuple) -> RawOutput | None:
        """The raw output kept for `key` (asked after `get` missed: its dense maps have left)."""
        with self._lock:
            entry = self._raws.get(key)
            if entry is None:
                return None
            self._raws.move_to_end(key)
            self.raw_hits += 1
            return entry

    def put(self, key: tuple, raw: np.ndarray, prepared: Prepared, dense: Dense, mode: str = "") -> CachedOutput:
        # Read-only from here on: a cached output is served to many requests (and its labels shared
        # with a Prediction rather than copied, 48 MB for a 12 MP photo), so none may change it.
        for array in (raw, dense.scores, dense.grey, dense.labels):
            if array is not None:
                array.flags.writeable = False
        entry = CachedOutput(
            raw=raw,
            prepared_shape=prepared.batch.shape,
            image_size=prepared.image_size,
            valid=prepared.valid,
            dense=dense,
            mode=mode,
        )
        kept_raw = RawOutput(raw, entry.prepared_shape, entry.image_size, entry.valid, mode)
        with self._lock:
            if key in self._raws:
                self._raw_bytes -= self._raws.pop(key).raw.nbytes
            raw_budget = self.raw_budget
            if raw.nbytes <= raw_budget:
                self._raws[key] = kept_raw
                self._raw_bytes += raw.nbytes
                while self._raw_bytes > raw_budget:
                    _, evicted_raw = self._raws.popitem(last=False)
                    self._raw_bytes -= evicted_raw.raw.nbytes
            if key in self._entries:
                self._bytes -= self._entries.pop(key).nbytes
            if entry.nbytes > self.budget:
                return entry  # larger than the whole cache: served, not kept
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.budget:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._raws.clear()
            self._raw_bytes = 0
            self.hits = self.misses = self.raw_hits = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes


CACHE = OutputCache()
