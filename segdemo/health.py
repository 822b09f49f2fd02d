"""What the health endpoint reports: which models are ready and which weights are missing."""

from __future__ import annotations

import os

from segdemo import cpu, registry, runtime, settings, weights
from segdemo.output_cache import CACHE


def weights_state(spec: registry.ModelSpec, offline: bool) -> str:
    """The state of a model's weights: "present" (a weights folder, the download cache or the
    Hub cache holds them), "downloadable" (published, and downloads are allowed) or "missing"."""
    if weights.available(spec):
        return "present"
    return "downloadable" if spec.published_weights and not offline else "missing"


def report() -> dict:
    """{"status": "ok", "offline": bool, "precision", "engine", "engines": {loaded key: what runs it}, "device",
    "cores": {"used", "seen"}, "workers", "networks_running", "threads", "cpu_flags": {"checked", "present"},
    "models": {key: {"title", "loaded", "weights"}}, "output_cache":
    {"hits", "misses", "raw_hits", "entries"}}; nothing is loaded, downloaded or hashed. A miss is one
    network run unless it is a raw hit (the dense maps had left; only the postprocessing ran again)."""
    loaded = {name.split(":")[0] for name in runtime.loaded_keys()}
    offline = settings.get().offline
    models = {
        key: {"title": spec.title, "loaded": key in loaded, "weights": weights_state(spec, offline)}
        for key, spec in registry.REGISTRY.items()
    }
    output_cache = {"hits": CACHE.hits, "misses": CACHE.misses, "raw_hits": CACHE.raw_hits, "entries": len(CACHE)}
    current = settings.get()
    flags = settings.cpu_flags()
    return {
        "status": "ok",
        "offline": offline,
        # "fast": the PSPNets may compute in int8 or bfloat16 where that keeps their answers; "exact":
        # float32 (segdemo.runtime); "engines": what runs each loaded network now; the device is
        # "CPU" or "GPU: <name>", None until TensorFlow is imported (asking would import it).
        "precision": runtime.precision(),
        "engine": current.engine,
        "engines": runtime.modes(),
        "device": runtime.device(),
        # "used": the cores this process may use (affinity mask and cgroup quota, segdemo.cpu);
        # "seen": the machine's count, which a container or Space may not be allowed to use.
        "cores": {"used": cpu.usable_cores(), "seen": os.cpu_count()},
        "workers": current.workers,
        "networks_running": runtime.networks_running(),
        # TensorFlow's thread pools as sized from "cores" and "workers" (None until it is imported).
        "threads": runtime.threads(),
        # The CPU flags that decide how fast int8 and bfloat16 run: those checked, and those this CPU has.
        "cpu_flags": {"checked": list(settings.DECIDING_FLAGS), "present": sorted(flags & set(settings.DECIDING_FLAGS))},
        "models": models,
        "output_cache": output_cache,
    }
