"""The live training behind the Train tab (segdemo.live_training), with real Keras networks on
the real eliret pairs (or the generated ones): streaming, decreasing loss, Stop at the end of
the batch, one training at a time, pauses for other requests, committed weights untouched."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from segdemo import live_training, registry
from segdemo.live_training import TrainingBusyError, TrainingRequest
from tests.model_helpers import committed_weight_digests


@pytest.mark.slow
def test_a_short_run_streams_every_epoch_with_decreasing_loss_and_keeps_the_model():
    updates = list(live_training.train(TrainingRequest("fcn", epochs=3, seed=1)))
    assert [update.epoch for update in updates] == [1, 2, 3]  # one update per epoch, the last one final
    assert [update.state for update in updates] == ["running", "running", "finished"]
    assert [update.steps for update in updates] == [5, 10, 15]  # 100 pairs in batches of 20
    last = updates[-1]
    assert last.done and last.trained is not None and last.trained.epochs == 3
    assert len(last.loss) == len(last.val_loss) == 3
    assert last.loss[-1] < last.loss[0]
    assert all(update.loss == last.loss[: update.epoch] for update in updates)  # each update holds the history so far
    # The outputs on the two fixed images: a centred 32×32 test image and maior2 (88×80).
    names = [shown.name for shown in last.displays]
    assert names == ["076", "maior2"]
    assert last.displays[0].grey.shape == (32, 32) and last.displays[1].grey.shape == (80, 88)
    for shown in last.displays:
        assert shown.grey.dtype == np.float32 and 0.0 <= shown.grey.min() <= shown.grey.max() <= 1.0
        assert set(np.unique(shown.binary)) <= {0, 1}
        np.testing.assert_array_equal(shown.binary, (shown.grey >= live_training.THRESHOLD).astype(np.uint8))
    # The kept model gives what the network gave on the display image, through the app's pipeline.
    prediction = last.trained.predict(last.displays[0].image)
    np.testing.assert_allclose(prediction.raw, last.displays[0].grey, atol=1e-5)
    assert live_training.running() is None


@pytest.mark.slow
def test_stop_ends_the_run_at_the_end_of_the_current_batch():
    stop = threading.Event()

    def press_stop_in_epoch_two() -> bool:
        # Asked at each epoch's start and every batch end. The U-Net runs 10 training batches (100
        # pairs, batch 10) and 5 validation batches per epoch: call 20 is the end of epoch 2's third
        # training batch (calls 1 and 17 start the epochs).
        press_stop_in_epoch_two.calls += 1
        if press_stop_in_epoch_two.calls == 20:
            stop.set()
        return False

    press_stop_in_epoch_two.calls = 0
    updates = list(live_training.train(TrainingRequest("unet", epochs=5, seed=2), stop, press_stop_in_epoch_two))
    last = updates[-1]
    assert last.steps == 13  # not one batch more after Stop (an epoch-end check would give 20)
    assert last.state == live_training.STOPPED and last.epoch == 1 and len(last.loss) == 1
    assert last.trained is not None and last.trained.epochs == 1  # the completed epoch is kept


@pytest.mark.slow
def test_stop_before_the_first_epoch_ends_keeps_no_model():
    stop = threading.Event()
    stop.set()
    (only,) = list(live_training.train(TrainingRequest("fcn", epochs=2), stop))
    assert only.state == live_training.STOPPED and only.epoch == 0 and only.trained is None


@pytest.mark.slow
def test_one_training_at_a_time_and_the_lock_is_released_when_a_client_goes_away():
    first = live_training.train(TrainingRequest("fcn", epochs=5, seed=3))
    update = next(first)
    assert update.epoch == 1
    assert live_training.running()["epoch"] == 1
    with pytest.raises(TrainingBusyError, match="already running"):
        next(live_training.train(TrainingRequest("fcn", epochs=1)))
    first.close()  # what the server does when the browser that asked goes away
    assert live_training.running() is None
    assert next(live_training.train(TrainingRequest("fcn", epochs=1))).epoch == 1


@pytest.mark.slow
def test_training_sleeps_while_other_requests_wait():
    polls = []

    def busy_for_a_while() -> bool:
        polls.append(1)
        return len(polls) < 15  # "busy" for 14 polls of 20 ms, then free

    updates = list(live_training.train(TrainingRequest("fcn", epochs=1, seed=4), yield_to=busy_for_a_while))
    assert updates[-1].state == live_training.FINISHED
    assert updates[-1].paused_seconds >= 13 * live_training.PAUSE_POLL_S
    assert updates[-1].seconds > 0


@pytest.mark.slow
def test_committed_weights_are_read_never_written(tmp_path):
    before = committed_weight_digests()
    assert {"fcn.weights.h5", "unet.weights.h5"} <= set(before)
    runs = {}
    for init in ("committed", "random"):
        runs[init] = list(live_training.train(TrainingRequest("fcn", epochs=1, seed=5, init=init)))[-1]
    assert committed_weight_digests() == before
    committed_model = live_training.build_network(TrainingRequest("fcn", init="committed"))
    assert any(not np.array_equal(a, b) for a, b in zip(runs["committed"].trained.weights, committed_model.get_weights()))
    # Starting from the committed FCN (validation MSE 0.014 after 1000 epochs) is far ahead of a random start.
    assert runs["committed"].val_loss[0] < 0.05 < runs["random"].val_loss[0]
    # The app's loaded model is another object: its weights did not move.
    from segdemo import runtime

    loaded = runtime.get("fcn").model
    fresh = live_training.build_network(TrainingRequest("fcn", init="committed"))
    for served, committed in zip(loaded.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(served, committed)


@pytest.mark.slow
def test_augmentation_uses_the_augmented_recipe_and_weights():
    request = TrainingRequest("unet", augmentation=True, epochs=1, init="committed")
    assert request.registry_key == "unet_aug"
    model = live_training.build_network(request)
    from segdemo import runtime

    for served, copied in zip(runtime.get("unet_aug").model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(served, copied)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"model": "pspnet_voc"}, "Unknown model"),
        ({"model": "fcn", "epochs": 0}, "between 1 and"),
        ({"model": "unet", "epochs": live_training.EPOCH_CAPS["unet"] + 1}, "between 1 and"),
        ({"model": "fcn", "epochs": 2.5}, "whole number"),
        ({"model": "fcn", "seed": -1}, "seed"),
        ({"model": "fcn", "init": "imagenet"}, "initialisation"),
    ],
)
def test_bad_requests_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        TrainingRequest(**arguments)


def test_generated_pairs_look_like_eliret(eliret_dir):
    images, masks = live_training.centred_pairs(40, seed=9)
    assert images.shape == masks.shape == (40, 32, 32, 1)
    assert images.min() == 0.0 and images.max() == 1.0
    for mask in masks[..., 0]:
        rows, columns = np.nonzero(mask)
        # Centred at (16, 16) with odd sides of 9–23 pixels, as eliret's objects.
        assert (rows.min() + rows.max()) / 2 == 16 and (columns.min() + columns.max()) / 2 == 16
        assert 9 <= rows.max() - rows.min() + 1 <= 23 and 9 <= columns.max() - columns.min() + 1 <= 23
    # Object and background differ by about 32 grey levels under noise of sigma 16, as in eliret.
    from segdemo.datasets import eliret

    real_images, real_masks = eliret.load_split("train", eliret_dir)

    def contrast(images, masks):
        return np.mean([abs(image[mask > 0].mean() - image[mask == 0].mean()) for image, mask in zip(images, masks)])

    assert contrast(images, masks) == pytest.approx(contrast(real_images, real_masks), rel=0.25)


@pytest.mark.slow
def test_without_the_dataset_it_trains_on_generated_pairs_and_validates_on_the_shipped_ones(monkeypatch):
    monkeypatch.delenv("SEGDEMO_DATA_DIR", raising=False)
    data = live_training.training_data(seed=1)
    assert data.source == "generated"
    assert data.train_x.shape == (live_training.GENERATED_PAIRS, 32, 32, 1)
    assert data.valid_x.shape[1:] == (32, 32, 1) and len(data.valid_x) >= 5
    updates = list(live_training.train(TrainingRequest("fcn", epochs=2, seed=1), data=data))
    assert updates[-1].data_source == "generated" and updates[-1].loss[-1] < updates[-1].loss[0]


def test_the_outputs_figure_has_a_row_per_fixed_image():
    displays = live_training._display(
        live_training.build_network(TrainingRequest("fcn")), registry.get("fcn"), live_training.display_images()
    )
    figure = live_training.outputs_figure(displays, size=100)
    assert figure.dtype == np.uint8 and figure.ndim == 3
    assert figure.shape[0] > 2 * 100 and figure.shape[1] > 4 * 100
    with pytest.raises(ValueError, match="Four column titles"):
        live_training.outputs_figure(displays, ("a", "b"))
