"""What the health endpoint reports: which models are ready and which weights are missing."""

from __future__ import annotations

from segdemo import registry, runtime, weights


def report() -> dict:
    """{"status": "ok", "models": {key: {"title", "loaded", "weights"}}} (nothing is loaded or downloaded)."""
    loaded = {name.split(":")[0] for name in runtime.loaded_keys()}
    models = {
        key: {
            "title": spec.title,
            "loaded": key in loaded,
            "weights": "present" if weights.available(spec) else ("downloadable" if spec.published_weights else "missing"),
        }
        for key, spec in registry.REGISTRY.items()
    }
    return {"status": "ok", "models": models}
