"""One Settings object, read from the environment once and validated with clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from segdemo import runtime, settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_values(tmp_path):
    defaults = settings.from_environ({})
    assert defaults.data_dir is None and defaults.cache_dir == Path.home() / ".cache" / "segdemo"
    assert defaults.weights_dirs == (settings.REPOSITORY_WEIGHTS,) and defaults.weights_dir == settings.REPOSITORY_WEIGHTS
    assert (defaults.max_models, defaults.queue_size, defaults.offline) == (6, 64, False)
    assert (defaults.hf_repo, defaults.hf_revision) == (None, None)
    assert defaults.output_cache_mb == 512
    assert settings.from_environ({"SEGDEMO_OUTPUT_CACHE_MB": " 0 "}).output_cache_mb == 0  # nothing kept
    first, second = tmp_path / "a", tmp_path / "b"
    chosen = settings.from_environ(
        {
            "SEGDEMO_DATA_DIR": str(tmp_path),
            "SEGDEMO_CACHE_DIR": str(tmp_path / "cache"),
            "SEGDEMO_WEIGHTS_DIR": f"{first}{os.pathsep}{second}",
            "SEGDEMO_MAX_MODELS": "2",
            "SEGDEMO_QUEUE_SIZE": " 8 ",
            "SEGDEMO_OFFLINE": "yes",
            "SEGDEMO_HF_REPO": "owner/name",
            "SEGDEMO_HF_REVISION": "0123abc",
        }
    )
    assert chosen.data_dir == tmp_path and chosen.cache_dir == tmp_path / "cache"
    # The named folders first, the repository's weights always searched too (the shipped models keep working).
    assert chosen.weights_dirs == (first, second, settings.REPOSITORY_WEIGHTS) and chosen.weights_dir == first
    assert (chosen.max_models, chosen.queue_size, chosen.offline) == (2, 8, True)
    assert (chosen.hf_repo, chosen.hf_revision) == ("owner/name", "0123abc")
    assert settings.from_environ({"HF_HUB_OFFLINE": "1"}).offline
    assert not settings.from_environ({"SEGDEMO_OFFLINE": "0", "HF_HUB_OFFLINE": "false"}).offline


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("SEGDEMO_QUEUE_SIZE", "lots", "SEGDEMO_QUEUE_SIZE='lots' is not a whole number"),
        ("SEGDEMO_QUEUE_SIZE", "0", "SEGDEMO_QUEUE_SIZE=0 is too small"),
        ("SEGDEMO_MAX_MODELS", "six", "SEGDEMO_MAX_MODELS='six' is not a whole number"),
        ("SEGDEMO_MAX_MODELS", "-1", "SEGDEMO_MAX_MODELS=-1 is too small"),
        ("SEGDEMO_OFFLINE", "maybe", "SEGDEMO_OFFLINE='maybe' is not a switch"),
        ("HF_HUB_OFFLINE", "2", "HF_HUB_OFFLINE='2' is not a switch"),
        ("SEGDEMO_HF_REPO", "no-owner", "SEGDEMO_HF_REPO='no-owner' is not a Hub repository id"),
        ("SEGDEMO_DATA_DIR", "/no/such/folder", "SEGDEMO_DATA_DIR='/no/such/folder' is not a folder"),
        ("SEGDEMO_OUTPUT_CACHE_MB", "-5", "SEGDEMO_OUTPUT_CACHE_MB='-5' is not a whole number"),
    ],
)
def test_bad_values_name_the_variable(variable, value, message):
    with pytest.raises(settings.SettingsError, match=message.replace("(", r"\(")) as error:
        settings.from_environ({variable: value})
    assert isinstance(error.value, ValueError)


def test_a_file_is_not_a_folder(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    for variable in ("SEGDEMO_CACHE_DIR", "SEGDEMO_WEIGHTS_DIR"):
        with pytest.raises(settings.SettingsError, match=f"{variable}.*not a folder"):
            settings.from_environ({variable: str(afile)})


def test_read_once_until_the_environment_changes(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGDEMO_MAX_MODELS", "3")
    first = settings.get()
    assert settings.get() is first and first.max_models == 3 and runtime.max_models() == 3
    monkeypatch.setenv("SEGDEMO_MAX_MODELS", "4")
    assert settings.get() is not first and runtime.max_models() == 4


def test_a_bad_max_models_is_an_error_not_ignored(monkeypatch):
    monkeypatch.setenv("SEGDEMO_MAX_MODELS", "many")
    with pytest.raises(settings.SettingsError, match="SEGDEMO_MAX_MODELS"):
        runtime.max_models()


@pytest.mark.slow
def test_the_app_refuses_a_bad_queue_size_with_a_clear_message(tmp_path):
    env = dict(os.environ, SEGDEMO_QUEUE_SIZE="lots", GRADIO_ANALYTICS_ENABLED="False", SEGDEMO_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-c", "import app; app.build_app()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode != 0
    assert "SettingsError: SEGDEMO_QUEUE_SIZE='lots' is not a whole number" in completed.stderr
