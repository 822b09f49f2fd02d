"""How many CPU cores this process may use, and how many inference workers and threads follow from it.

Nothing here imports TensorFlow. A container or a Space often sees the host's cores (os.cpu_count()
says 16 or 64) while it may use only a few: the scheduler's affinity mask (`os.sched_getaffinity`,
what `taskset` and Docker's --cpuset-cpus set) and the cgroup's CPU quota (cgroup v2 `cpu.max`,
cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, what Docker's --cpus and Kubernetes' limits set)
both cap it. `usable_cores()` is the smaller of the two; the thread pools and the default number
of inference workers are sized from it, never from the host's count.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
MAX_DEFAULT_WORKERS = 4
"""The most inference workers chosen by default, whatever the cores (SEGDEMO_WORKERS may ask more)."""


def affinity_cores() -> int:
    """The cores the scheduler lets this process run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _v2_limit(text: str) -> float | None:
    """The CPUs allowed by a cgroup v2 `cpu.max` ("QUOTA PERIOD" or "max PERIOD"), None when unlimited."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_limit(folder: Path) -> float | None:
    """The CPUs allowed by a cgroup v1 cpu controller folder (cfs_quota_us -1: unlimited), None when unlimited."""
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text().strip())
        period = int((folder / "cpu.cfs_period_us").read_text().strip())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _own_cgroup_paths(self_cgroup: Path) -> tuple[str | None, str | None]:
    """This process's cgroup path in the v2 hierarchy and in the v1 cpu controller (from /proc/self/cgroup)."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None, None
    unified = cpu_v1 = None
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":
            unified = path
        elif "cpu" in controllers.split(","):
            cpu_v1 = path
    return unified, cpu_v1


def _folders_up(base: Path, path: str | None) -> list[Path]:
    """`base/path`, its parents up to `base`, and `base` itself (a limit anywhere on the way applies)."""
    folders = [base]
    if path and path.strip("/"):
        current = base
        for part in Path(path.strip("/")).parts:
            current = current / part
            folders.append(current)
    return folders


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> float | None:
    """The CPUs the cgroup quota allows this process (e.g. 1.5), or None when no quota limits it.

    Reads cgroup v2's `cpu.max` in this process's cgroup and every parent up to `root` (in a
    container, `root` is usually the container's own cgroup), and cgroup v1's cpu controller
    (`root/cpu` or `root/cpu,cpuacct`) where it is mounted; the smallest limit found wins.

    Args:
        root: where the cgroup file system is mounted.
        self_cgroup: the file listing this process's cgroups (/proc/self/cgroup).
    """
    unified, cpu_v1 = _own_cgroup_paths(self_cgroup)
    limits = []
    for folder in _folders_up(root, unified):
        try:
            limits.append(_v2_limit((folder / "cpu.max").read_text()))
        except OSError:
            continue
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        controller = root / name
        if controller.is_dir():
            limits.extend(_v1_limit(folder) for folder in _folders_up(controller, cpu_v1))
            break
    found = [limit for limit in limits if limit is not None]
    return min(found) if found else None


def usable_cores(affinity: int | None = None, quota: float | None = None, *, read_quota: bool = True) -> int:
    """The cores this process may keep busy: its affinity mask, capped by the cgroup quota (rounded up), at least 1.

    Args:
        affinity: the cores in the affinity mask (default: read with os.sched_getaffinity).
        quota: the CPUs the cgroup quota allows (default: read with `cgroup_cpu_limit()`; None: none).
        read_quota: False: do not read the quota when `quota` is None (tests).
    """
    cores = affinity_cores() if affinity is None else affinity
    if quota is None and read_quota:
        quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def default_workers(cores: int) -> int:
    """How many requests run their networks at once by default on `cores` usable cores.

    One on up to 3 cores: one PSPNet already keeps two cores busy (about 80 % of the matmul peak in
    `bench.pspnet`), so a second request would only share them. From 4 cores, half the cores, at
    most MAX_DEFAULT_WORKERS: a lone request's convolutions scale less well past a few cores, while
    decoding, postprocessing and drawing (mostly one thread each) overlap with another request's
    network; each request in flight holds its activations (about 0.5 GB for a PSPNet at 12 MP), so
    the count stays small.

    Args:
        cores: the usable cores (`usable_cores()`).
    """
    if cores < 1:
        raise ValueError(f"cores must be at least 1, not {cores}.")
    return 1 if cores <= 3 else min(MAX_DEFAULT_WORKERS, cores // 2)


def thread_counts(cores: int, workers: int) -> tuple[int, int]:
    """TensorFlow's (intra-op, inter-op) thread counts for `workers` concurrent requests on `cores` cores.

    TensorFlow keeps one intra-op pool per process, shared by every request in flight: it gets all
    the usable cores, so a lone request still uses them all and concurrent ones share the pool
    instead of each starting its own (which would put workers × cores threads on the cores). The
    inter-op pool, which dispatches whole operations, gets one thread per worker and at least two
    (TensorFlow's own default on a 2-core machine, where the measured figures come from).

    Args:
        cores: the usable cores.
        workers: requests that may run their networks at the same time.
    """
    if cores < 1 or workers < 1:
        raise ValueError(f"cores and workers must be at least 1, not {cores} and {workers}.")
    return cores, max(2, workers)


# glibc's mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 4 * 2**20


def limit_heap_growth(workers: int) -> bool:
    """Keeps the server's memory from growing with every burst of large photos (glibc only).

    Each thread that allocates may get its own malloc arena (up to 8 per core), and glibc raises its
    mmap threshold after large blocks are freed, so a 12 MP photo's arrays end up in arenas that
    keep the freed memory. At most `workers` + 1 arenas, and blocks of 4 MB or more always mapped
    and given back when freed: after a 60-photo burst the app's peak RSS was 2248 MiB instead of
    3038 MiB (docs/performance.md), with the same times. Returns whether the C library took it.

    Args:
        workers: the inference requests that run at once (SEGDEMO_WORKERS).
    """
    import ctypes

    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_ARENA_MAX, max(1, int(workers)) + 1)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def _libc():
    """The C library through ctypes, or None where there is none to load."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return None if name is None else ctypes.CDLL(name)
    except OSError:
        return None


_MADV_DONTNEED = 4  # Linux's value (asm-generic/mman-common.h)


def release_file_pages(path: Path | str) -> int:
    """Drops from this process's memory the pages of every read-only mapping of the file `path`;
    returns the bytes of the mappings (0 when the file is not mapped, or off Linux).

    OpenVINO maps a model's weights file and, at the first inference, repacks the weights into the
    layout its kernels read; the mapped pages are not touched again but stay resident, counted in
    the process's RSS (125 MiB for a PSPNet-101 in bfloat16). Dropping them is safe: they are clean
    pages of a file mapped read-only, which the kernel reads again from the file if they are ever
    touched. Writable mappings are left alone (dropping their pages would lose what was written).

    Args:
        path: the mapped file.
    """
    import ctypes

    target = os.path.realpath(path)
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:  # not Linux
        return 0
    ranges = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == target and "w" not in fields[1]:
            start, end = (int(value, 16) for value in fields[0].split("-"))
            ranges.append((start, end))
    if not ranges:
        return 0
    libc = _libc()
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, end in ranges:
        if libc.madvise(start, end - start, _MADV_DONTNEED) == 0:
            released += end - start
    return released
