"""Weight resolution: weights folder → cache → Hub (HF_ENDPOINT on 127.0.0.1) → URLs (127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segdemo import weights
from tests.hub_server import serve_hub
from tests.http_server import serve_folder

ROOT = Path(__file__).resolve().parent.parent


def _entry(urls=(), size=None, sha256=None, hub=None):
    return {
        "file": "pspnet_test.h5",
        "bytes": size,
        "sha256": sha256,
        "urls": list(urls),
        "converted": {"file": "pspnet_test.weights.h5", "sha256": None},
        "hub": hub or {"repo_id": None, "revision": None},
    }


@pytest.fixture(autouse=True)
def fresh_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGDEMO_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.delenv("SEGDEMO_HF_REPO", raising=False)
    weights.forget_failures()
    yield
    weights.forget_failures()


def test_manifest_lists_the_three_published_files():
    entries = weights.manifest()
    assert {entry["file"] for entry in entries.values()} == {"pspnet101_voc2012.h5", "pspnet50_ade20k.h5", "pspnet101_cityscapes.h5"}
    assert sorted(entry["bytes"] for entry in entries.values()) == [187_364_696, 263_273_292, 263_277_396]
    assert all(url.startswith("https://www.dropbox.com/") for entry in entries.values() for url in entry["urls"])


def test_the_weights_folder_comes_first(tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "pspnet_test.h5").write_bytes(b"legacy")
    found = weights.resolve_published(_entry(urls=["http://127.0.0.1:9/never"]), "Test")
    assert found.path == folder / "pspnet_test.h5" and found.layout == weights.LEGACY


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
    with serve_folder(served) as base, pytest.raises(weights.WeightsMissingError, match="sha256"):
        weights.resolve_published(_entry(urls=[base + "w.h5"], sha256="0" * 64), "Test")


def test_offline_and_missing_says_which_file_and_where(tmp_path):
    with pytest.raises(weights.WeightsMissingError) as error:
        weights.resolve_published(_entry(urls=["http://127.0.0.1:9/pspnet_test.h5"]), "PSPNet test")
    message = str(error.value)
    assert "pspnet_test.h5" in message and str(tmp_path / "weights") in message
    # The failed source is not asked again at once (a classroom of clicks must not hammer it).
    with pytest.raises(weights.WeightsMissingError, match="failed less than"):
        weights.resolve_published(_entry(urls=["http://127.0.0.1:9/pspnet_test.h5"]), "PSPNet test")


HUB_SCRIPT = """
import json, sys
from segdemo import weights
entry = json.loads(sys.argv[1])
found = weights.resolve_published(entry, "Test")
print(json.dumps({"path": str(found.path), "layout": found.layout}))
"""


def test_the_hub_is_asked_with_a_pinned_revision(tmp_path):
    converted = tmp_path / "pspnet_test.weights.h5"
    converted.write_bytes(b"keras3 weights")
    files = {"segdemo/pspnet@v1.0/pspnet_test.weights.h5": converted}
    entry = _entry(urls=["http://127.0.0.1:9/never.h5"], hub={"repo_id": "segdemo/pspnet", "revision": "v1.0"})
    with serve_hub(files) as (endpoint, requests):
        # huggingface_hub reads HF_ENDPOINT when imported: run the real client in a fresh process.
        env = dict(os.environ, HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT))
        completed = subprocess.run([sys.executable, "-c", HUB_SCRIPT, json.dumps(entry)], env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["layout"] == weights.KERAS3 and Path(found["path"]).read_bytes() == b"keras3 weights"
    assert any("/segdemo/pspnet/resolve/v1.0/pspnet_test.weights.h5" in request for request in requests)


def test_offline_mode_asks_no_source(monkeypatch):
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    with pytest.raises(weights.WeightsMissingError, match="SEGDEMO_OFFLINE=1"):
        # A URL that would answer at once if it were asked: it must not be.
        weights.resolve_published(_entry(urls=["http://127.0.0.1:9/pspnet_test.h5"]), "Test")
    assert weights._failures == {}
