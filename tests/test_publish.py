"""`python -m train.publish_pspnet`: convert → one Hub commit → pinned manifest → the app resolves it.

The Hub is the stand-in of tests/hub_server.py; the real huggingface_hub client talks to it from a
subprocess (it reads HF_ENDPOINT when imported). The heavy tests convert a full-size PSPNet-50
(random weights, 187 MB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segdemo import registry, weights
from segdemo.download import sha256_of
from tests.hub_server import HubState, serve_hub
from train import publish_pspnet

ROOT = Path(__file__).resolve().parent.parent
KEY = "pspnet_ade20k"
ENTRY = "pspnet50_ade20k"
REPO = "test/pspnet"
TOKEN = "hf_stand_in_token"
# A few layers of every kind: first convolution, a bottleneck unit, pyramid pooling, classifier.
COMPARED_LAYERS = ("conv1_1_3x3_s2", "conv1_1_3x3_s2_bn", "conv3_2_1x1_reduce", "conv5_3_pool6_conv_bn", "conv5_4", "conv6")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: this checkout importable, no real Hub token or cache."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HF_", "HUGGING_FACE_", "SEGDEMO_HF_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="3",
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        **extra,
    )
    return env


def _run(code: str, args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture()
def manifest_copy(tmp_path) -> Path:
    path = tmp_path / "manifest.json"
    shutil.copyfile(weights.MANIFEST_PATH, path)
    return path


# --- options and the manifest (fast) ----------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--models", "pspnet_nope", "--no-upload"],
            "'pspnet_nope' is not a registry key; choose from pspnet_voc, pspnet_ade20k, pspnet_cityscapes",
        ),
        (["--models", "fcn", "--no-upload"], "'fcn' is not a PSPNet model"),
        (["--models", KEY], "--repo-id OWNER/NAME is required"),
        (["--models", KEY, "--repo-id", "no-owner"], "--repo-id must look like OWNER/NAME"),
    ],
)
def test_bad_options_fail_with_a_clear_message(argv, message, manifest_copy, capsys):
    with pytest.raises(SystemExit) as stopped:
        publish_pspnet.main([*argv, "--manifest", str(manifest_copy)])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert manifest_copy.read_bytes() == weights.MANIFEST_PATH.read_bytes()


def test_bad_input_raises_value_error(tmp_path, manifest_copy):
    options = publish_pspnet.parse_args(["--models", "pspnet_voc,pspnet_nope", "--no-upload"])
    with pytest.raises(ValueError, match="pspnet_nope"):
        publish_pspnet.check_options(options)
    options = publish_pspnet.parse_args(["--no-upload", "--source-dir", str(tmp_path), "--manifest", str(manifest_copy)])
    with pytest.raises(ValueError, match="lacks pspnet101_voc2012.h5, pspnet50_ade20k.h5, pspnet101_cityscapes.h5"):
        publish_pspnet.check_options(options)
    options = publish_pspnet.parse_args(["--no-upload", "--manifest", str(tmp_path / "none.json")])
    with pytest.raises(ValueError, match="No manifest"):
        publish_pspnet.check_options(options)


def test_models_default_to_the_three_pspnets_in_registry_order():
    options = publish_pspnet.parse_args(["--no-upload"])
    assert publish_pspnet.selected_models(options.models) == ["pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes"]
    assert publish_pspnet.selected_models(["pspnet_cityscapes,pspnet_voc", "pspnet_voc"]) == ["pspnet_cityscapes", "pspnet_voc"]


def test_manifest_update_changes_three_fields_and_keeps_the_style(manifest_copy):
    original = manifest_copy.read_text()
    assert publish_pspnet.format_manifest(json.loads(original)) + "\n" == original  # the style round-trips
    document = json.loads(original)
    conversion = publish_pspnet.Conversion(KEY, ENTRY, Path("x.weights.h5"), "ab" * 32, Path("x.h5"), "cd" * 32)
    publish_pspnet.update_manifest(manifest_copy, document, [conversion], REPO, "f" * 40)
    updated = manifest_copy.read_text()
    expected = original.replace(
        '"converted": {"file": "pspnet50_ade20k.weights.h5", "sha256": null},\n      "hub": {"repo_id": null, "revision": null}',
        f'"converted": {{"file": "pspnet50_ade20k.weights.h5", "sha256": "{"ab" * 32}"}},\n'
        f'      "hub": {{"repo_id": "{REPO}", "revision": "{"f" * 40}"}}',
    )
    assert updated != original and updated == expected
    assert [path.name for path in manifest_copy.parent.iterdir()] == ["manifest.json"]  # no temporary left
    front_matter = publish_pspnet.space_front_matter(json.loads(updated))
    assert front_matter == f"models:\n  - {REPO}\npreload_from_hub:\n  - {REPO} pspnet50_ade20k.weights.h5 {'f' * 40}"


# --- publishing through the real client to the stand-in Hub (fast) ----------------------------


FAKE_CONVERSIONS = """
import sys
from pathlib import Path
from train import publish_pspnet
folder = Path(sys.argv[1])


def convert(key, entry_name, entry, source_dir, output):  # small stand-ins for the 180-260 MB files
    path = folder / entry["converted"]["file"]
    path.write_bytes(key.encode() * 1000)
    return publish_pspnet.Conversion(key, entry_name, path, publish_pspnet.sha256_of(path), Path(entry["file"]), "0" * 64)


publish_pspnet.convert = convert
publish_pspnet.main(sys.argv[2:])
"""


def test_all_models_go_in_one_commit_and_the_manifest_pins_it(tmp_path, manifest_copy):
    hub = HubState()
    with serve_hub({}, hub) as (endpoint, requests):
        published = _run(
            FAKE_CONVERSIONS,
            [str(tmp_path), "--repo-id", REPO, "--manifest", str(manifest_copy)],
            _env(tmp_path, HF_ENDPOINT=endpoint),
        )
        assert published.returncode == 0, published.stderr[-3000:]
        (revision,) = hub.commits
        uploaded = {name: sha256_of(blob) for name, blob in hub.commits[revision].files.items()}  # blobs live while it serves
    names = ["pspnet101_voc2012.weights.h5", "pspnet50_ade20k.weights.h5", "pspnet101_cityscapes.weights.h5"]
    assert sorted(uploaded) == sorted(names) and hub.repos[REPO] == {"private": False}
    entries = weights.manifest(manifest_copy)
    for name in names:
        entry = entries[name.removesuffix(".weights.h5")]
        assert entry["converted"]["sha256"] == sha256_of(tmp_path / name) == uploaded[name]
        assert entry["hub"] == {"repo_id": REPO, "revision": revision}
    assert f"preload_from_hub:\n  - {REPO} {','.join(names)} {revision}\n" in published.stdout
    assert sum("/commit/main" in request for request in requests) == 1


def test_a_refused_upload_leaves_the_manifest_alone(tmp_path, manifest_copy):
    hub = HubState(refuse_writes='You don\'t have the rights to create a model under the namespace "test"')
    with serve_hub({}, hub) as (endpoint, _):
        args = [str(tmp_path), "--models", KEY, "--repo-id", REPO, "--manifest", str(manifest_copy)]
        published = _run(FAKE_CONVERSIONS, args, _env(tmp_path, HF_ENDPOINT=endpoint))
    assert published.returncode == 1
    assert (
        "403" in published.stderr
        and "rights to create a model" in published.stderr
        and "The manifest was not changed" in published.stderr
    )
    assert manifest_copy.read_bytes() == weights.MANIFEST_PATH.read_bytes() and not hub.commits


# --- the whole publication with a full-size PSPNet-50 (slow) ---------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A PSPNet-50 (ADE20K) with random weights in every array, and its Keras-2 file in a
    source folder under the published name."""
    from segdemo import architectures
    from tests.legacy_h5_writer import write_legacy_weights

    spec = registry.get(KEY)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    rng = np.random.default_rng(7)
    model.set_weights([rng.uniform(0.5, 1.5, array.shape).astype(np.float32) for array in model.get_weights()])
    folder = tmp_path_factory.mktemp("published")
    write_legacy_weights(model, folder / "pspnet50_ade20k.h5")
    return model, folder


PUBLISH = "import sys; from train.publish_pspnet import main; main(sys.argv[1:])"

RESOLVE = """
import json, sys
from pathlib import Path
from segdemo import weights
entry = weights.manifest(Path(sys.argv[1]))[sys.argv[2]]
found = weights.resolve_published(entry, "t")
print(json.dumps({"path": str(found.path), "layout": found.layout, "sha256": found.sha256}))
"""


@pytest.mark.slow
def test_publish_then_resolve_from_the_hub(source, tmp_path, manifest_copy):
    model, source_dir = source
    original = json.loads(manifest_copy.read_text())
    cache = tmp_path / "cache"
    hub = HubState()
    with serve_hub({}, hub) as (endpoint, requests):
        args = ["--models", KEY, "--repo-id", REPO, "--manifest", str(manifest_copy), "--source-dir", str(source_dir)]
        env = _env(tmp_path, HF_ENDPOINT=endpoint, SEGDEMO_CACHE_DIR=str(cache))
        published = _run(PUBLISH, [*args, "--token", TOKEN, "--private"], env)
        assert published.returncode == 0, published.stdout[-2000:] + published.stderr[-3000:]

        # The manifest pins the one commit the stand-in received.
        (revision,) = hub.commits
        updated = json.loads(manifest_copy.read_text())
        entry = updated["published"][ENTRY]
        converted = cache / "converted-for-hub" / "pspnet50_ade20k.weights.h5"
        assert entry["converted"] == {"file": "pspnet50_ade20k.weights.h5", "sha256": sha256_of(converted)}
        assert entry["hub"] == {"repo_id": REPO, "revision": revision}
        assert hub.branches[(REPO, "main")] == revision and hub.repos[REPO] == {"private": True}
        assert sha256_of(hub.commits[revision].files["pspnet50_ade20k.weights.h5"]) == entry["converted"]["sha256"]
        assert {authorization for _, authorization in hub.writes} == {f"Bearer {TOKEN}"}
        original["published"][ENTRY] = entry
        assert updated == original  # nothing else changed
        assert f"  - {REPO} pspnet50_ade20k.weights.h5 {revision}" in published.stdout
        assert f"{entry['converted']['sha256']}  pspnet50_ade20k.weights.h5" in published.stdout

        # The app's resolution finds the conversion on the Hub at the pinned commit.
        empty_weights = tmp_path / "empty-weights"
        empty_weights.mkdir()
        env = _env(
            tmp_path, HF_ENDPOINT=endpoint, SEGDEMO_WEIGHTS_DIR=str(empty_weights), SEGDEMO_CACHE_DIR=str(tmp_path / "app-cache")
        )
        resolved = _run(RESOLVE, [str(manifest_copy), ENTRY], env, timeout=120)
        assert resolved.returncode == 0, resolved.stderr[-3000:]
    found = json.loads(resolved.stdout.strip().splitlines()[-1])
    assert found["layout"] == weights.KERAS3 and found["sha256"] == entry["converted"]["sha256"]
    assert sha256_of(found["path"]) == entry["converted"]["sha256"]
    assert any(f"/{REPO}/resolve/{revision}/pspnet50_ade20k.weights.h5" in request for request in requests)
    assert not any("dropbox" in request for request in requests)

    # Loaded into a freshly built PSPNet-50, the conversion holds exactly the source's arrays.
    from segdemo import architectures

    spec = registry.get(KEY)
    fresh = architectures.build(spec.architecture, **spec.arch_kwargs)
    fresh.load_weights(found["path"])
    for name in COMPARED_LAYERS:
        for mine, theirs in zip(model.get_layer(name).get_weights(), fresh.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)


@pytest.mark.slow
def test_no_upload_converts_and_prints_checksums_only(source, tmp_path, manifest_copy, capsys):
    _, source_dir = source
    output = tmp_path / "out"
    publish_pspnet.main(
        [
            "--models",
            KEY,
            "--no-upload",
            "--source-dir",
            str(source_dir),
            "--output",
            str(output),
            "--manifest",
            str(manifest_copy),
        ]
    )
    printed = capsys.readouterr().out
    converted = output / "pspnet50_ade20k.weights.h5"
    assert f"{sha256_of(converted)}  pspnet50_ade20k.weights.h5" in printed
    assert f"(source pspnet50_ade20k.h5: {sha256_of(source_dir / 'pspnet50_ade20k.h5')})" in printed
    assert "nothing uploaded" in printed and "preload_from_hub" not in printed
    assert manifest_copy.read_bytes() == weights.MANIFEST_PATH.read_bytes()
    assert sorted(path.name for path in output.iterdir()) == ["pspnet50_ade20k.weights.h5"]
