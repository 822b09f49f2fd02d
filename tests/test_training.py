"""Short smoke runs of the real training scripts: they write weights that load, metrics and a plot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import segdemo
from segdemo import architectures, registry, settings
from segdemo import metrics as segdemo_metrics
from segdemo.datasets import eliret, membrane
from train import eliret as train_eliret
from train import membrane as train_membrane
from train import plots
from train.__main__ import main as train_main

pytestmark = pytest.mark.slow  # real training runs: minutes on 2 cores


@pytest.mark.parametrize("key", ["fcn", "unet", "unet_aug"])
def test_a_few_eliret_epochs_write_loadable_weights(key, eliret_dir, tmp_path):
    results = train_eliret.main(
        [key, "--epochs", "2", "--output", str(tmp_path), "--data-dir", str(eliret_dir), "--progress-every", "1"]
    )
    spec = registry.get(key)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    model.load_weights(tmp_path / spec.weights_file)
    metrics = json.loads((tmp_path / f"{key}.metrics.json").read_text())
    assert metrics == json.loads(json.dumps(results))
    assert set(metrics) >= {"train", "valid", "test", "large", "history"}
    assert len(metrics["history"]["loss"]) == len(metrics["history"]["val_loss"]) == 2
    # The figures describe the weights written: the test MSE recomputed from the file.
    images, masks = eliret.load_split("test", eliret_dir)
    scores = np.clip(np.asarray(model(images, training=False)), 0.0, 1.0)
    assert metrics["test"]["mse"] == pytest.approx(segdemo_metrics.mse(scores, masks), rel=1e-4)
    assert metrics["large"]["count"] >= 2
    with Image.open(tmp_path / f"{key}.loss.png") as plot:
        pixels = np.asarray(plot.convert("RGB")).reshape(-1, 3)
    # Both curves are drawn across the plot (the legend's swatches alone are 90 pixels each).
    for name, colour in plots.COLOURS.items():
        assert (pixels == colour).all(axis=1).sum() > 300, name


def fcn_epoch(eliret_dir, output) -> list[str]:
    """The arguments of one FCN epoch (seed 3) written to `output`."""
    return ["fcn", "--epochs", "1", "--seed", "3", "--output", str(output), "--data-dir", str(eliret_dir)]


@pytest.fixture(scope="module")
def fcn_one_epoch(eliret_dir, tmp_path_factory) -> Path:
    """A folder where one FCN epoch was trained (`fcn_epoch`): the start of the resume test and
    the first of the reproducibility test's two runs. Tests copy it before writing into it."""
    folder = tmp_path_factory.mktemp("fcn-one-epoch")
    train_eliret.main(fcn_epoch(eliret_dir, folder))
    return folder


def test_resume_continues_the_history(eliret_dir, fcn_one_epoch, tmp_path):
    shutil.copytree(fcn_one_epoch, tmp_path, dirs_exist_ok=True)
    arguments = fcn_epoch(eliret_dir, tmp_path)
    before = (tmp_path / "fcn.weights.h5").read_bytes()
    train_eliret.main(arguments + ["--resume"])
    metrics = json.loads((tmp_path / "fcn.metrics.json").read_text())
    assert metrics["epochs"] == 2 and len(metrics["history"]["loss"]) == 2
    assert (tmp_path / "fcn.weights.h5").read_bytes() != before


def test_resume_without_weights_is_a_clear_error(eliret_dir, tmp_path):
    with pytest.raises(ValueError, match="no weights to resume from"):
        train_eliret.main(["fcn", "--epochs", "1", "--output", str(tmp_path), "--data-dir", str(eliret_dir), "--resume"])


def membrane_arguments(membrane_dir, output) -> list[str]:
    """A tiny membrane run's arguments (no skip connections, 4 base filters, 2 steps of 2 slices) into `output`."""
    common = ["membrane_noskip", "--steps-per-epoch", "2", "--batch-size", "2", "--base-filters", "4"]
    return [*common, "--output", str(output), "--data-dir", str(membrane_dir)]


@pytest.fixture(scope="module")
def membrane_one_epoch(membrane_dir, tmp_path_factory) -> tuple[Path, dict]:
    """One epoch of the tiny membrane run, and what it returned: the smoke run, and the first phase
    of the soft-label test. Tests copy the folder before writing into it."""
    folder = tmp_path_factory.mktemp("membrane-one-epoch")
    return folder, train_membrane.main([*membrane_arguments(membrane_dir, folder), "--epochs", "1"])


def test_membrane_smoke_run(membrane_dir, membrane_one_epoch):
    folder, results = membrane_one_epoch
    # The registry's network (its mirrored border included) at the smoke run's width.
    model = architectures.build("membrane_unet", **dict(registry.get("membrane_noskip").arch_kwargs, base_filters=4))
    model.load_weights(folder / "membrane_noskip.weights.h5")
    assert results["valid"]["full_resolution"]["size"] == 512
    # The validation accuracy is the written network's: recomputed from the file on slices 20-24.
    images, cells = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, registry.get("membrane_noskip").input_size[0])
    membrane_found = 1.0 - np.asarray(model(images, training=False)) >= 0.5
    accuracy = segdemo_metrics.pixel_accuracy(membrane_found, cells < 0.5)
    assert results["valid"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert (folder / "membrane_noskip.loss.png").exists()
    no_extra = {"elastic": 0.0, "brightness": 0.0, "contrast": 0.0, "gamma": 0.0}
    assert results["phases"] == [
        {"epochs": 1, "learning_rate": train_membrane.LEARNING_RATE, "soft_labels": False, "seed": 7, **no_extra}
    ]


def test_mixed_precision_computes_in_bfloat16_and_writes_the_float32_network(
    membrane_dir, membrane_one_epoch, tmp_path, monkeypatch
):
    """--mixed-precision: the network trains computing in bfloat16 with its output layer in float32;
    the file written loads into the float32 network, the figures are that network's, and Keras'
    global policy is float32 again afterwards. Where bfloat16 would be emulated it is refused."""
    arguments = [*membrane_arguments(membrane_dir, tmp_path), "--epochs", "1", "--seed", "9", "--mixed-precision"]
    monkeypatch.setattr(train_membrane, "bfloat16_is_native", lambda: False)
    with pytest.raises(ValueError, match="no native bfloat16"):
        train_membrane.main(arguments)
    # On a CPU without it the same path runs emulated (slower): what is checked here is the arithmetic.
    monkeypatch.setattr(train_membrane, "bfloat16_is_native", lambda: True)
    shutil.copytree(membrane_one_epoch[0], tmp_path, dirs_exist_ok=True)
    trained = []
    build = train_membrane.training_network
    monkeypatch.setattr(train_membrane, "training_network", lambda *given: trained.append(build(*given)) or trained[-1])
    results = train_membrane.main([*arguments, "--resume"])
    [network] = trained
    assert network.get_layer("down1_conv1").compute_dtype == "bfloat16"
    assert network.get_layer("cell_probability").compute_dtype == "float32" and network.output.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"
    assert results["phases"][-1]["mixed_precision"] == "bfloat16" and "mixed_precision" not in results["phases"][0]
    model = architectures.build("membrane_unet", **dict(registry.get("membrane_noskip").arch_kwargs, base_filters=4))
    model.load_weights(tmp_path / "membrane_noskip.weights.h5")
    images, cells = membrane.load_slices(membrane.VALID_SLICES, membrane_dir, registry.get("membrane_noskip").input_size[0])
    found = 1.0 - np.asarray(model(images, training=False)) >= 0.5
    assert results["valid"]["accuracy"] == pytest.approx(segdemo_metrics.pixel_accuracy(found, cells < 0.5), abs=1e-6)


def test_membrane_soft_labels_resume_records_each_phase(membrane_dir, membrane_one_epoch, tmp_path):
    common = membrane_arguments(membrane_dir, tmp_path)
    weights_file = tmp_path / "membrane_noskip.weights.h5"
    shutil.copytree(membrane_one_epoch[0], tmp_path, dirs_exist_ok=True)  # the first phase: one epoch
    first = tmp_path / "first" / weights_file.name
    first.parent.mkdir()
    first.write_bytes(weights_file.read_bytes())
    resumed = ["--epochs", "2", "--resume", "--soft-labels", "--learning-rate", "3e-4", "--seed", "8"]
    distortions = ["--elastic", "10", "--contrast", "0.2", "--gamma", "0.1", "--symmetries", "--border-weight", "10"]
    with pytest.raises(ValueError, match="--resume or --init-from"):
        train_membrane.main([*common, "--epochs", "1", "--pseudo-labels"])
    for shaping in (["--border-keep-total"], ["--border-sigma", "3"]):  # a weight map's shape without the map
        with pytest.raises(ValueError, match="add --border-weight"):
            train_membrane.main([*common, "--epochs", "1", *shaping])
    # The second stretch also trains on the unlabelled slices, labelled by the first (self-training).
    results = train_membrane.main([*common, *resumed, *distortions, "--pseudo-labels"])
    unlabelled = len(membrane.test_paths(membrane_dir))
    assert unlabelled > 0
    assert results["phases"] == [
        {"epochs": 1, "learning_rate": train_membrane.LEARNING_RATE, "soft_labels": False, "seed": 7}
        | {"elastic": 0.0, "brightness": 0.0, "contrast": 0.0, "gamma": 0.0},
        {"epochs": 2, "learning_rate": 3e-4, "soft_labels": True, "seed": 8}
        | {"elastic": 10.0, "brightness": 0.0, "contrast": 0.2, "gamma": 0.1, "symmetries": True}
        | {"pseudo_labels": {"slices": unlabelled, "labelled_repeats": train_membrane.LABELLED_REPEATS}}
        | {"border_weights": {"w0": 10.0, "sigma": 5.0}},
    ]
    assert "elastic deformation (10 px)" in results["augmentation"] and "contrast 0.2, gamma 0.1" in results["augmentation"]
    assert "eight flips and 90° turns" in results["augmentation"]
    assert results["labels"] == "coverage fractions of the reduced masks"
    assert len(results["history"]["val_accuracy"]) == 3
    # Keras' validation accuracy binarizes the soft masks as `evaluate` does: for the kept (lowest
    # validation loss) epoch both agree; an exact-match accuracy would miss every fractional pixel.
    history = results["history"]
    kept = 1 + min(range(2), key=lambda epoch: history["val_loss"][1 + epoch])
    assert history["val_accuracy"][kept] == pytest.approx(results["valid"]["accuracy"], abs=1e-4)

    # Averaging the two stretches' kept weights writes their mean, evaluated, with the history kept.
    second = tmp_path / "second" / weights_file.name
    second.parent.mkdir()
    second.write_bytes(weights_file.read_bytes())
    averaged = train_membrane.main([*common, "--average", str(first), str(second)])
    assert averaged["averaged"] == ["first/membrane_noskip.weights.h5", "second/membrane_noskip.weights.h5"]
    assert averaged["history"] == results["history"] and averaged["phases"] == results["phases"]
    networks = []
    for path in (first, second, weights_file):
        network = architectures.build("membrane_unet", base_filters=4, skip_connections=False)
        network.load_weights(path)
        networks.append(network.get_weights())
    for a, b, mean in zip(*networks):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b) for a, b in zip(networks[0], networks[1]))
    assert averaged["valid"] != results["valid"]
    with pytest.raises(ValueError, match="at least two"):
        train_membrane.main([*common, "--average", str(first)])


def test_the_network_runs_a_few_slices_at_a_time_with_the_same_output():
    """train.membrane runs the network outside training INFERENCE_BATCH slices at a time (the 30
    unlabelled slices in one pass held 10 GB more): every slice's output, the last partial batch's too."""
    model = architectures.build("membrane_unet", input_size=(32, 32), base_filters=4, mirror=8)
    slices = np.random.default_rng(3).random((2 * train_membrane.INFERENCE_BATCH + 1, 32, 32, 1)).astype(np.float32)
    whole = np.asarray(model(slices, training=False))
    np.testing.assert_allclose(train_membrane.network_output(model, slices), whole, atol=1e-6)


def test_pseudo_labels_follow_each_unlabelled_slice(membrane_dir):
    # A network whose cell probability is its input: the pseudo-labels must be each slice's own
    # bright pixels, turned back from all eight views to where they are (a view left turned, or
    # slices in another order, would label one slice with another's pixels).
    identity = keras.Sequential(
        [keras.Input((None, None, 1)), keras.layers.Conv2D(1, 1, kernel_initializer="ones", use_bias=False)]
    )
    images, masks = train_membrane.pseudo_labelled_slices(identity, membrane_dir, 128)
    paths = membrane.test_paths(membrane_dir)
    assert images.shape == masks.shape == (len(paths), 512, 512, 1)
    assert set(np.unique(masks)) == {0.0, 1.0}
    bright = images[..., 0] >= 0.5
    agreement = np.mean(masks[..., 0] == bright, axis=(1, 2))
    shifted = np.mean(masks[..., 0] == np.roll(bright, 1, axis=0), axis=(1, 2))  # each slice against the next
    turned = np.mean(masks[..., 0] == np.rot90(bright, axes=(1, 2)), axis=(1, 2))
    assert agreement.min() > 0.8, agreement
    assert agreement.min() > shifted.max() + 0.05 and agreement.min() > turned.max() + 0.05, (agreement, shifted, turned)


def test_pseudo_labels_are_what_predict_gives_with_tta(membrane_dir, tmp_path):
    # The committed 256 model labels three unlabelled slices as the app's own predict(tta=True)
    # does: the same reduction, the same eight views turned back, the same resize and threshold.
    spec = registry.get("membrane_unet_256")
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    model.load_weights(settings.weights_dir() / spec.weights_file)
    (tmp_path / "test").mkdir()
    chosen = membrane.test_paths(membrane_dir)[::12]
    for path in chosen:
        shutil.copy(path, tmp_path / "test" / path.name)
    _, masks = train_membrane.pseudo_labelled_slices(model, tmp_path, spec.input_size[0])
    for mask, path in zip(masks, chosen):
        cells = segdemo.predict(path, spec.key, 0.5, tta=True).labels == 0
        plain = segdemo.predict(path, spec.key, 0.5).labels == 0
        assert np.mean((mask[..., 0] == 1) == cells) > 0.9999
        assert np.mean((mask[..., 0] == 1) == plain) < 0.99  # the views matter: without them the labels differ


def test_python_dash_m_train_refuses_pretrained_and_unknown_models():
    with pytest.raises(ValueError, match="Unknown model"):
        train_main(["nonsense"])
    for key in registry.keys("pspnet"):
        with pytest.raises(SystemExit, match=f"{key} is a pretrained model"):
            train_main([key, "--epochs", "1"])


def test_training_is_reproducible_with_a_seed(eliret_dir, fcn_one_epoch, tmp_path):
    train_eliret.main(fcn_epoch(eliret_dir, tmp_path))  # the second run; the first is the fixture's
    runs = []
    for folder in (fcn_one_epoch, tmp_path):
        model = architectures.build("fcn")
        model.load_weights(folder / "fcn.weights.h5")
        runs.append(model.get_weights())
    assert all(np.allclose(a, b) for a, b in zip(*runs))
