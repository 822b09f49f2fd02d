"""The cores this process may use (affinity mask and cgroup quota), and the workers and threads sized from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segdemo import cpu, health, settings

ROOT = Path(__file__).resolve().parent.parent


def write_cgroup(root, cpu_max: dict[str, str], own: str = "/"):
    """A cgroup v2 tree under `root`: cpu.max files at the given paths, and a /proc/self/cgroup naming `own`."""
    for path, text in cpu_max.items():
        folder = root / path.strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(text + "\n")
    self_cgroup = root.parent / "self_cgroup"
    self_cgroup.write_text(f"0::{own}\n")
    return self_cgroup


def test_cgroup_v2_quota(tmp_path):
    root = tmp_path / "cgroup"
    self_cgroup = write_cgroup(root, {"/": "150000 100000"})
    assert cpu.cgroup_cpu_limit(root, self_cgroup) == 1.5
    assert cpu.usable_cores(affinity=16, quota=cpu.cgroup_cpu_limit(root, self_cgroup)) == 2  # 1.5 CPUs: 2 threads


def test_cgroup_v2_unlimited_and_missing(tmp_path):
    root = tmp_path / "cgroup"
    self_cgroup = write_cgroup(root, {"/": "max 100000"})
    assert cpu.cgroup_cpu_limit(root, self_cgroup) is None
    assert cpu.cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "no_self") is None
    assert cpu.usable_cores(affinity=16, quota=None, read_quota=False) == 16


def test_the_smallest_limit_on_the_way_to_the_process_wins(tmp_path):
    root = tmp_path / "cgroup"
    # A parent slice allows 4 CPUs, the process's own cgroup none, a sibling 1 (not ours: ignored).
    self_cgroup = write_cgroup(
        root,
        {"/": "max 100000", "/kubepods": "400000 100000", "/kubepods/pod1": "max 100000", "/kubepods/other": "100000 100000"},
        own="/kubepods/pod1",
    )
    assert cpu.cgroup_cpu_limit(root, self_cgroup) == 4.0


def test_cgroup_v1_quota(tmp_path):
    root = tmp_path / "cgroup"
    controller = root / "cpu,cpuacct" / "docker" / "abc"
    controller.mkdir(parents=True)
    (root / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    (root / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    (controller / "cpu.cfs_quota_us").write_text("300000\n")
    (controller / "cpu.cfs_period_us").write_text("100000\n")
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert cpu.cgroup_cpu_limit(root, self_cgroup) == 3.0


def test_this_process(tmp_path):
    used = cpu.usable_cores()
    assert 1 <= used <= len(os.sched_getaffinity(0)) <= (os.cpu_count() or 1)
    limit = cpu.cgroup_cpu_limit()
    if limit is not None:
        assert used <= max(1, int(limit + 0.999))


def test_workers_and_threads_from_the_cores():
    assert [cpu.default_workers(cores) for cores in (1, 2, 3, 4, 8, 16, 64)] == [1, 1, 1, 2, 4, 4, 4]
    # One intra-op pool shared by every request: all the cores; one inter-op thread per worker, at least 2.
    assert cpu.thread_counts(2, 1) == (2, 2)
    assert cpu.thread_counts(8, 4) == (8, 4)
    with pytest.raises(ValueError, match="at least 1"):
        cpu.thread_counts(0, 1)
    with pytest.raises(ValueError, match="at least 1"):
        cpu.default_workers(0)


def test_workers_setting():
    assert settings.from_environ({}).workers == cpu.default_workers(cpu.usable_cores())
    assert settings.from_environ({"SEGDEMO_WORKERS": " 3 "}).workers == 3
    with pytest.raises(settings.SettingsError, match="SEGDEMO_WORKERS='two' is not a whole number"):
        settings.from_environ({"SEGDEMO_WORKERS": "two"})
    with pytest.raises(settings.SettingsError, match="SEGDEMO_WORKERS=0 is too small"):
        settings.from_environ({"SEGDEMO_WORKERS": "0"})


def test_health_reports_cores_workers_and_flags(monkeypatch):
    monkeypatch.setenv("SEGDEMO_WORKERS", "2")
    report = health.report()
    assert report["cores"] == {"used": cpu.usable_cores(), "seen": os.cpu_count()}
    assert report["workers"] == 2
    running = report["networks_running"]
    assert 0 <= running["now"] <= running["peak"]
    flags = report["cpu_flags"]
    assert flags["checked"] == list(settings.DECIDING_FLAGS)
    assert set(flags["present"]) == settings.cpu_flags() & set(settings.DECIDING_FLAGS)


@pytest.mark.slow
def test_tensorflow_pools_are_sized_before_the_first_operation():
    # A fresh process: TensorFlow has run nothing yet, so the sizes apply (here they hold).
    code = (
        "import json, tensorflow as tf\n"
        "from segdemo import runtime\n"
        "runtime.import_tensorflow()\n"
        "tf.constant(1.0) + 1.0\n"
        "print(json.dumps([runtime.threads(), tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads()]))\n"
    )
    env = dict(os.environ, SEGDEMO_WORKERS="3", TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    reported, intra, inter = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (intra, inter) == cpu.thread_counts(cpu.usable_cores(), 3)
    assert reported == {"intra_op": intra, "inter_op": inter}


HEAP_PROBE = """
import sys, threading
import numpy as np
from segdemo import cpu
if sys.argv[1] == "limited" and not cpu.limit_heap_growth(1):
    raise SystemExit("mallopt refused")
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
pins = []
def work():
    first = np.ones(2**20)  # 8 MB, freed: glibc raises its mmap threshold above it
    del first
    blocks = []
    for _ in range(40):
        blocks.append(np.ones(6 * 2**17))  # 6 MB, as a photo's arrays
        pins.append(np.ones(1000))  # a small block after each, kept (what a request leaves)
    del blocks
before = rss()
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_limited_heap_gives_large_blocks_back_after_a_request():
    """240 MB of 6 MB arrays freed behind small kept blocks: glibc's defaults keep them in the
    thread's arena; with the app's limits they are mapped and given back."""

    def grown(mode: str) -> int:
        result = subprocess.run([sys.executable, "-c", HEAP_PROBE, mode], capture_output=True, text=True, check=True, cwd=ROOT)
        return int(result.stdout.strip())

    assert grown("default") > 150
    assert grown("limited") < 50
