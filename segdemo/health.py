"""What the health endpoint reports: which models are ready and which weights are missing."""

from __future__ import annotations

from segdemo import registry, runtime, settings, weights
from segdemo.output_cache import CACHE


def weights_state(spec: registry.ModelSpec, offline: bool) -> str:
    """The state of a model's weights: "present" (a weights folder, the download cache or the
    Hub cache holds them), "downloadable" (published, and downloads are allowed) or "missing"."""
    if weights.available(spec):
        return "present"
    return "downloadable" if spec.published_weights and not offline else "missing"


def report() -> dict:
    """{"status": "ok", "offline": bool, "models": {key: {"title", "loaded", "weights"}}, "output_cache":
    {"hits", "misses", "entries"}}; nothing is loaded, downloaded or hashed. A cache miss is one network run."""
    loaded = {name.split(":")[0] for name in runtime.loaded_keys()}
    offline = settings.get().offline
    models = {
        key: {"title": spec.title, "loaded": key in loaded, "weights": weights_state(spec, offline)}
        for key, spec in registry.REGISTRY.items()
    }
    output_cache = {"hits": CACHE.hits, "misses": CACHE.misses, "entries": len(CACHE)}
    return {
        "status": "ok",
        "offline": offline,
        # "fast": the PSPNets compute in bfloat16; "exact": float32 (segdemo.runtime); the device is
        # "CPU" or "GPU: <name>", None until TensorFlow is imported (asking would import it).
        "precision": runtime.precision(),
        "device": runtime.device(),
        "models": models,
        "output_cache": output_cache,
    }
