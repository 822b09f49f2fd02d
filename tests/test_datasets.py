"""Dataset readers and the verified download path (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import shutil
import zipfile

import numpy as np
import pytest

from segdemo import download
from segdemo.datasets import eliret, membrane
from segdemo.datasets.fetch import DatasetMissingError
from segdemo.datasets.synthetic import make_large_images
from tests.http_server import serve_folder


def test_eliret_splits_follow_the_csv_files(eliret_dir):
    train_x, _ = eliret.load_split("train", eliret_dir)
    valid_x, _ = eliret.load_split("valid", eliret_dir)
    test_x, test_y = eliret.load_split("test", eliret_dir)
    assert train_x.shape == (100, 32, 32, 1) and len(valid_x) == 50 and len(test_x) == 50
    assert train_x.dtype == np.float32 and 0.0 <= train_x.min() and train_x.max() <= 1.0
    assert set(np.unique(test_y)) == {0.0, 1.0}
    first = eliret.split_pairs("test", eliret_dir)[0]
    assert first[0].name == "075x.png" and first[1].name == "075y.png"


def test_unknown_split(eliret_dir):
    with pytest.raises(ValueError, match="Unknown eliret split"):
        eliret.load_split("holdout", eliret_dir)


def test_membrane_slices_are_resized_and_labelled(membrane_dir):
    images, masks = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, 128)
    assert images.shape == (5, 128, 128, 1) and masks.shape == (5, 128, 128, 1)
    assert set(np.unique(masks)) == {0.0, 1.0}
    assert 0.6 < masks.mean() < 0.95  # mostly cell interior (label 255)
    assert len(membrane.test_paths(membrane_dir)) == 30


def _zip_folder(source, archive, prefix=""):
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name != "SOURCE.md":
                bundle.write(path, prefix + str(path.relative_to(source)))


def test_eliret_downloads_verifies_and_caches(eliret_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    _zip_folder(eliret_dir, served / "segm_eliret.zip", prefix="segm_eliret/")
    with serve_folder(served) as base:
        folder = eliret.folder(url=base + "segm_eliret.zip")
    assert folder == tmp_path / "cache" / "datasets" / "eliret"
    assert (folder / "treino.csv").exists() and len(list(folder.glob("*.png"))) == 404
    # A second call uses the cache: no server needed any more.
    assert eliret.folder(url="http://127.0.0.1:9/unreachable.zip") == folder


def test_tampered_download_is_refused(eliret_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "copy"
    shutil.copytree(eliret_dir, copy)
    (copy / "075y.png").write_bytes((copy / "076y.png").read_bytes())
    served = tmp_path / "served"
    served.mkdir()
    _zip_folder(copy, served / "segm_eliret.zip")
    with serve_folder(served) as base, pytest.raises(DatasetMissingError, match="differ"):
        eliret.folder(url=base + "segm_eliret.zip")
    assert not (tmp_path / "cache" / "datasets" / "eliret").exists()


def test_offline_without_a_copy_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatasetMissingError, match="SEGDEMO_DATA_DIR") as error:
        eliret.folder(url="http://127.0.0.1:9/segm_eliret.zip")
    assert "treino.csv" in str(error.value)


def test_membrane_falls_back_to_the_github_files(membrane_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    with serve_folder(membrane_dir) as base:
        # The course's zip is unreachable; the repository's raw files are served.
        folder = membrane.folder(url="http://127.0.0.1:9/membrane.zip", github_base=base)
    assert (folder / "train" / "label" / "24.png").exists() and len(membrane.test_paths(folder)) == 30


def test_download_checks_size_and_leaves_no_partial_file(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "weights.h5").write_bytes(b"<html>error page</html>")
    with serve_folder(served) as base:
        with pytest.raises(download.DownloadError, match="error page"):
            download.fetch_file(base + "weights.h5", tmp_path / "out" / "weights.h5", expected_bytes=263_277_396)
        seen = []
        path = download.fetch_file(
            base + "weights.h5",
            tmp_path / "out" / "ok.h5",
            expected_bytes=23,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert path.read_bytes() == b"<html>error page</html>" and seen[-1] == (23, 23)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ok.h5"]


def test_a_wrong_sha256_is_refused_and_a_right_one_is_not_downloaded_again(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "data.bin").write_bytes(b"published bytes")
    digest = hashlib.sha256(b"published bytes").hexdigest()
    with serve_folder(served) as base:
        with pytest.raises(download.DownloadError, match="(?i)hash"):
            download.fetch_file(base + "data.bin", tmp_path / "out" / "data.bin", sha256="0" * 64)
        assert not (tmp_path / "out" / "data.bin").exists()
        path = download.fetch_file(base + "data.bin", tmp_path / "out" / "data.bin", sha256=digest)
    # The server is gone: a verified copy is used as it is.
    assert download.fetch_file("http://127.0.0.1:9/data.bin", path, sha256=digest) == path


def test_zip_with_path_traversal_stays_inside_the_scratch_folder(eliret_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    _zip_folder(eliret_dir, served / "segm_eliret.zip")
    with zipfile.ZipFile(served / "segm_eliret.zip", "a") as bundle:
        bundle.writestr("../../../escaped.txt", "x")
    with serve_folder(served) as base:
        folder = eliret.folder(url=base + "segm_eliret.zip")
    # zipfile drops the ".." parts: the member lands inside the dataset folder, nowhere above it.
    assert sorted(tmp_path.rglob("escaped.txt")) == [folder / "escaped.txt"]
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path.parent.parent / "escaped.txt").exists()


def test_offline_setting_downloads_nothing(membrane_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    monkeypatch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEGDEMO_OFFLINE", "1")
    served = tmp_path / "served"
    _zip_folder(membrane_dir, tmp_path / "membrane.zip")
    shutil.copytree(membrane_dir, served)
    shutil.copy(tmp_path / "membrane.zip", served / "membrane.zip")
    # Both the course's zip and the GitHub files would answer: neither may be asked.
    with serve_folder(served) as base, pytest.raises(DatasetMissingError, match="offline"):
        membrane.folder(url=base + "membrane.zip", github_base=base)
    assert not (tmp_path / "cache" / "datasets" / "membrane").exists()


def test_generated_large_images_look_like_eliret():
    pairs = make_large_images(6, seed=1)
    assert [image.shape for image, _ in pairs[:2]] == [(72, 88), (80, 88)]
    for image, mask in pairs:
        assert image.min() == 0.0 and image.max() == 1.0  # stretched to 0–255
        assert set(np.unique(mask)) == {0.0, 1.0}
        assert 0.03 < mask.mean() < 0.4
    again = make_large_images(6, seed=1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(pairs, again))
