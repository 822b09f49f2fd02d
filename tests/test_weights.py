"""Weight resolution: weights folders → caches (ours, the Hub's) → the Hub → URLs.

The Hub is the stand-in of tests/hub_server.py on 127.0.0.1, asked by huggingface_hub's real
client; it reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when imported, so those cases run in
a fresh process. The URLs are a real HTTP server on 127.0.0.1 (tests/http_server.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from segdemo import download, registry, settings, weights
from tests.http_server import serve_folder
from tests.hub_server import COMMIT, serve_hub

ROOT = Path(__file__).resolve().parent.parent
REPO = "segdemo/pspnet"


def _entry(urls=(), size=None, sha256=None, hub=None, converted_sha256=None):
    return {
        "file": "pspnet_test.h5",
        "bytes": size,
        "sha256": sha256,
        "urls": list(urls),
        "converted": {"file": "pspnet_test.weights.h5", "sha256": converted_sha256},
        "hub": hub or {"repo_id": None, "revision": None},
    }


@pytest.fixture(autouse=True)
def fresh_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(tmp_path / "weights"))
    for name in ("SEGDEMO_HF_REPO", "SEGDEMO_HF_REVISION", "SEGDEMO_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    weights.forget_failures()
    yield
    weights.forget_failures()


def test_the_manifest_covers_every_published_model_and_every_download_is_checked():
    entries = weights.manifest()
    published = {spec.published_weights for spec in registry.REGISTRY.values() if spec.published_weights}
    assert published and published == set(entries)
    for name, entry in entries.items():
        assert entry["file"] == f"{name}.h5" and entry["converted"]["file"] == f"{name}.weights.h5"
        assert entry["urls"] and all(url.startswith("https://") for url in entry["urls"])
        # Every download is verified: by its sha256 when the manifest has one, else by its exact size.
        assert entry["sha256"] is not None or isinstance(entry["bytes"], int) and entry["bytes"] > 0
        for digest in (entry["sha256"], entry["converted"]["sha256"]):
            assert digest is None or re.fullmatch("[0-9a-f]{64}", digest)


def test_the_weights_folder_comes_first(tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "pspnet_test.h5").write_bytes(b"legacy")
    found = weights.resolve_published(_entry(urls=["http://127.0.0.1:9/never"]), "Test")
    assert found.path == folder / "pspnet_test.h5" and found.layout == weights.LEGACY


def test_a_weights_folder_setting_adds_to_the_shipped_weights(tmp_path):
    """A folder holding only the published PSPNet files must not hide the trained models."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "pspnet_test.h5").write_bytes(b"legacy")
    assert settings.weights_dirs() == (folder, settings.REPOSITORY_WEIGHTS)
    assert weights.resolve_published(_entry(), "Test").path == folder / "pspnet_test.h5"
    for key in registry.keys("eliret") + registry.keys("membrane"):
        spec = registry.get(key)
        assert weights.resolve(spec).path == settings.REPOSITORY_WEIGHTS / spec.weights_file
        assert weights.available(spec)


def test_urls_are_downloaded_size_checked_and_cached(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "good.h5").write_bytes(b"x" * 1000)
    (served / "error_page.h5").write_bytes(b"<html>")
    with serve_folder(served) as base:
        entry = _entry(urls=[base + "error_page.h5", base + "good.h5"], size=1000)
        found = weights.resolve_published(entry, "Test")
    assert found.layout == weights.LEGACY and found.path.read_bytes() == b"x" * 1000
    assert found.path.parent == Path(os.environ["SEGDEMO_CACHE_DIR"]) / "weights"
    # Now cached: no server needed.
    assert weights.resolve_published(entry, "Test").path == found.path


def test_a_wrong_checksum_is_refused(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "w.h5").write_bytes(b"abc")
    with serve_folder(served) as base, pytest.raises(weights.WeightsMissingError, match="(?i)sha256"):
        weights.resolve_published(_entry(urls=[base + "w.h5"], sha256="0" * 64), "Test")
    assert not (Path(os.environ["SEGDEMO_CACHE_DIR"]) / "weights" / "pspnet_test.h5").exists()


def test_a_file_on_disk_is_checked_against_the_manifest_digest_once(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "pspnet_test.h5").write_bytes(b"the published bytes")
    digest = hashlib.sha256(b"the published bytes").hexdigest()
    hashed = []
    real = download.sha256_of
    monkeypatch.setattr(download, "sha256_of", lambda path: hashed.append(path) or real(path))
    for _ in range(3):  # both pipelines and a reload after the LRU cache let the model go
        assert weights.resolve_published(_entry(sha256=digest), "Test").sha256 == digest
    assert len(hashed) == 1
    with pytest.raises(weights.WeightsMissingError, match="has sha256 .* the manifest expects 00"):
        weights.resolve_published(_entry(sha256="0" * 64), "Test")


def test_offline_and_missing_says_which_file_and_where(tmp_path):
    with pytest.raises(weights.WeightsMissingError) as error:
        weights.resolve_published(_entry(urls=["http://127.0.0.1:9/pspnet_test.h5"]), "PSPNet test")
    message = str(error.value)
    assert "pspnet_test.h5" in message and str(tmp_path / "weights") in message
    # The failed source is not asked again at once (a classroom of clicks must not hammer it).
    with pytest.raises(weights.WeightsMissingError, match="failed less than"):
        weights.resolve_published(_entry(urls=["http://127.0.0.1:9/pspnet_test.h5"]), "PSPNet test")


@pytest.mark.parametrize("variable", ["SEGDEMO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_mode_asks_no_url(monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "1")
    served = tmp_path / "served"
    served.mkdir()
    (served / "pspnet_test.h5").write_bytes(b"x")
    with (
        serve_folder(served) as base,
        pytest.raises(weights.WeightsMissingError, match="no download: SEGDEMO_OFFLINE or HF_HUB_OFFLINE"),
    ):
        # A URL that would answer at once if it were asked: it must not be.
        weights.resolve_published(_entry(urls=[base + "pspnet_test.h5"]), "Test")
    assert weights._failures == {}
    assert not (Path(os.environ["SEGDEMO_CACHE_DIR"]) / "weights" / "pspnet_test.h5").exists()


# --- the Hub, through huggingface_hub's client ------------------------------------------------


def _hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh process's environment: this checkout importable, its own Hub cache, no token."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HF_", "HUGGING_FACE_", "SEGDEMO_HF_", "SEGDEMO_OFFLINE"))
    }
    env.update(
        PYTHONPATH=str(ROOT), HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1"
    )
    env.update(extra)
    return env


def _run(code: str, env: dict[str, str], *args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


RESOLVE_TWICE = """
import json, sys
from segdemo import download, weights
hashed = []
real = download.sha256_of
download.sha256_of = lambda path: hashed.append(str(path)) or real(path)
entry = json.loads(sys.argv[1])
first = weights.resolve_published(entry, "Test")
second = weights.resolve_published(entry, "Test")
print(json.dumps({"path": str(first.path), "again": str(second.path), "layout": first.layout, "sha256": first.sha256, "hashed": len(hashed)}))
"""


def test_the_hub_is_asked_at_the_pinned_revision_and_its_file_hashed_once(tmp_path):
    converted = tmp_path / "pspnet_test.weights.h5"
    converted.write_bytes(b"keras3 weights")
    digest = hashlib.sha256(b"keras3 weights").hexdigest()
    entry = _entry(urls=["http://127.0.0.1:9/never.h5"], hub={"repo_id": REPO, "revision": "v1.0"}, converted_sha256=digest)
    with serve_hub({f"{REPO}@v1.0/pspnet_test.weights.h5": converted}) as (endpoint, requests):
        found = _run(RESOLVE_TWICE, _hub_env(tmp_path, HF_ENDPOINT=endpoint), json.dumps(entry))
    assert found["layout"] == weights.KERAS3 and Path(found["path"]).read_bytes() == b"keras3 weights"
    assert found["again"] == found["path"] and found["sha256"] == digest
    assert Path(found["path"]).is_relative_to(tmp_path / "hf-home")  # the Hub's own cache
    assert any(f"/{REPO}/resolve/v1.0/pspnet_test.weights.h5" in request for request in requests)
    assert found["hashed"] == 1  # the second load uses the remembered digest


def test_a_hub_file_that_differs_from_the_manifest_is_refused(tmp_path):
    converted = tmp_path / "pspnet_test.weights.h5"
    converted.write_bytes(b"not the published conversion")
    entry = _entry(hub={"repo_id": REPO, "revision": COMMIT}, converted_sha256="0" * 64)
    code = (
        "import json, sys\nfrom segdemo import weights\n"
        "try:\n    weights.resolve_published(json.loads(sys.argv[1]), 'Test')\n"
        "except weights.WeightsMissingError as error:\n    print(json.dumps({'error': str(error)}))\n"
    )
    with serve_hub({f"{REPO}@{COMMIT}/pspnet_test.weights.h5": converted}) as (endpoint, _):
        answer = _run(code, _hub_env(tmp_path, HF_ENDPOINT=endpoint), json.dumps(entry))
    assert "the manifest expects 0000" in answer["error"]


PRELOAD = """
import sys
from huggingface_hub import hf_hub_download
print('"' + hf_hub_download(sys.argv[1], sys.argv[2], revision=sys.argv[3]) + '"')
"""

FIND_OFFLINE = """
import json
from segdemo import health, registry, weights
spec = registry.get("pspnet_ade20k")
found = weights.resolve(spec)
print(json.dumps({"path": str(found.path), "layout": found.layout, "available": weights.available(spec),
                  "health": health.report()["models"]["pspnet_ade20k"]["weights"], "failures": len(weights._failures)}))
"""


@pytest.mark.parametrize("offline", ["SEGDEMO_OFFLINE", "HF_HUB_OFFLINE", "unreachable Hub"])
def test_a_file_preloaded_into_the_hub_cache_is_found_offline_and_reported_present(tmp_path, offline):
    """What a Space's `preload_from_hub` does: the conversion is in the Hub cache before the
    app starts; with the Hub out of reach the app loads it and /health says it is present."""
    name = weights.manifest()["pspnet50_ade20k"]["converted"]["file"]
    converted = tmp_path / name
    converted.write_bytes(b"preloaded conversion")
    with serve_hub({f"{REPO}@{COMMIT}/{name}": converted}) as (endpoint, requests):
        preloaded = _run(PRELOAD, _hub_env(tmp_path, HF_ENDPOINT=endpoint), REPO, name, COMMIT)
    assert len(requests) >= 1
    empty = tmp_path / "no-weights"
    empty.mkdir()
    env = _hub_env(
        tmp_path,
        HF_ENDPOINT="http://127.0.0.1:9",  # the stand-in is gone; nothing answers there
        SEGDEMO_HF_REPO=REPO,
        SEGDEMO_HF_REVISION=COMMIT,
        SEGDEMO_WEIGHTS_DIR=str(empty),
        SEGDEMO_CACHE_DIR=str(tmp_path / "segdemo-cache"),
    )
    if offline != "unreachable Hub":
        env[offline] = "1"
    found = _run(FIND_OFFLINE, env)
    assert found["path"] == preloaded and Path(found["path"]).read_bytes() == b"preloaded conversion"
    assert found["layout"] == weights.KERAS3 and found["available"] is True and found["health"] == "present"
    assert found["failures"] == 0  # nothing was asked over the network


HEALTH = """
import json
from segdemo import health
print(json.dumps(health.report()))
"""


def test_health_says_missing_offline_and_downloadable_online(tmp_path):
    empty = tmp_path / "no-weights"
    empty.mkdir()
    env = _hub_env(tmp_path, SEGDEMO_WEIGHTS_DIR=str(empty), SEGDEMO_CACHE_DIR=str(tmp_path / "cache"))
    online = _run(HEALTH, env)
    offline = _run(HEALTH, dict(env, HF_HUB_OFFLINE="1"))
    assert (online["offline"], offline["offline"]) == (False, True)
    assert online["models"]["pspnet_voc"]["weights"] == "downloadable" and offline["models"]["pspnet_voc"]["weights"] == "missing"
    assert online["models"]["fcn"]["weights"] == offline["models"]["fcn"]["weights"] == "present"
