"""The loaded-model cache: least recently used order, whichever way a model is found."""

from __future__ import annotations

import threading

from segdemo import registry, runtime


def test_a_model_found_on_the_second_look_becomes_the_most_recent(monkeypatch):
    """A request that waited on a model's lock while another thread loaded it finds the model on
    its second look: it is being used, so it must move to the recent end of the LRU order."""
    monkeypatch.setenv("SEGDEMO_MAX_MODELS", "2")
    runtime.clear()
    runtime.import_tensorflow()
    key_lock = runtime._key_locks.setdefault("fcn", threading.Lock())
    found = {}
    try:
        with key_lock:  # "another thread" is loading fcn: the waiting request passes its first look
            waiting = threading.Thread(target=lambda: found.setdefault("fcn", runtime.get("fcn")))
            waiting.start()
            waiting.join(timeout=0.5)
            assert waiting.is_alive()  # it waits for the lock
            loaded = runtime.LoadedModel(registry.get("fcn"))
            with runtime._lock:
                runtime._models["fcn"] = loaded  # the loading thread is done
            runtime.get("unet")  # meanwhile another request used another model
            assert runtime.loaded_keys() == ["fcn", "unet"]
        waiting.join(timeout=60)
        assert found["fcn"] is loaded
        assert runtime.loaded_keys() == ["unet", "fcn"]
        # So the next model pushes out unet, not the one just used.
        runtime.get("fcn_aug")
        assert runtime.loaded_keys() == ["fcn", "fcn_aug"]
    finally:
        runtime.clear()
