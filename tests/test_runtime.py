"""The loaded-model cache with real threads: one load per model however many requests ask for it
at once (the least-recently-used order itself: tests/test_predict.py)."""

from __future__ import annotations

import linecache
import sys
import threading
import time

from segdemo import runtime

WAIT_S = 120  # a busy 2-core machine builds and loads an eliret network in a few seconds


def _waits_for_a_lock(thread: threading.Thread) -> bool:
    """Whether `thread` is blocked inside runtime.get on a `with ...lock:` line (its frame says so;
    nothing in the cache is read or written)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code is runtime.get.__code__:
            return linecache.getline(runtime.__file__, frame.f_lineno).strip().startswith("with key_lock")
        frame = frame.f_back
    return False


def test_two_threads_asking_for_one_model_load_it_once(monkeypatch):
    """Two real request threads ask for fcn at the same time: the first builds and loads it, the
    second waits on the model's lock and, on its second look, gets the same model; the model is
    built once, and both uses count in the least-recently-used order."""
    monkeypatch.setenv("SEGDEMO_MAX_MODELS", "2")
    runtime.clear()
    runtime.import_tensorflow()
    builds, first_building, release = [], threading.Event(), threading.Event()
    real_loaded_model = runtime.LoadedModel

    class CountedLoadedModel(real_loaded_model):
        """The real class; the first fcn build waits until the second request waits on its lock."""

        def __init__(self, spec, *args, **kwargs):
            builds.append(spec.key)
            if spec.key == "fcn" and not first_building.is_set():
                first_building.set()
                assert release.wait(WAIT_S), "the second request never came"
            super().__init__(spec, *args, **kwargs)

    monkeypatch.setattr(runtime, "LoadedModel", CountedLoadedModel)
    found: dict[str, runtime.LoadedModel] = {}
    first = threading.Thread(target=lambda: found.setdefault("first", runtime.get("fcn")))
    second = threading.Thread(target=lambda: found.setdefault("second", runtime.get("fcn")))
    try:
        first.start()
        assert first_building.wait(WAIT_S), "the first request did not start building"
        second.start()
        deadline = time.monotonic() + WAIT_S
        while not _waits_for_a_lock(second):
            assert second.is_alive() and time.monotonic() < deadline, "the second request did not wait for the first"
            time.sleep(0.01)
        release.set()
        first.join(WAIT_S)
        second.join(WAIT_S)
        assert not first.is_alive() and not second.is_alive()
        assert builds == ["fcn"]  # built once, by the first request
        assert found["first"] is found["second"]
        assert runtime.loaded_keys() == ["fcn"]
        # The LRU order counts both threads' uses: unet joins, then fcn_aug pushes out the older of the two.
        runtime.get("unet")
        runtime.get("fcn")
        runtime.get("fcn_aug")
        assert runtime.loaded_keys() == ["fcn", "fcn_aug"]
        assert builds == ["fcn", "unet", "fcn_aug"]
    finally:
        release.set()
        runtime.clear()


def test_the_engines_child_runs_without_a_second_copy_of_its_module():
    """The command the app starts its engines' measurement with loads `segdemo.engines` once: runpy's
    "found in sys.modules" RuntimeWarning (what `python -m segdemo.engines` gives, since importing the
    package imports that module) is an error here. An unknown command is refused with a usage line."""
    import os
    import subprocess

    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    done = subprocess.run([sys.executable, *runtime.ENGINES_COMMAND, "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "--measure" in done.stdout and "python -m segdemo engines" in done.stdout
    refused = subprocess.run([sys.executable, "-m", "segdemo", "no-such-command"], capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "usage: python -m segdemo COMMAND" in refused.stderr
    asked = subprocess.run([sys.executable, "-m", "segdemo", "--help"], capture_output=True, text=True, env=env)
    assert asked.returncode == 0 and "engines" in asked.stdout
