"""The `keras_segmentation` pipeline reproduces keras-segmentation 0.3.0's predict() (issue 10 §3).

tests/data/keras_segmentation_reference.npz was recorded with the library itself (TensorFlow 2.15,
in a separate environment: `python -m bench.keras_segmentation_reference --fixture ...`) on a
shipped non-square photo (640×426): the 8-bit image its `cv2.resize` produced (digest and every
16th row) and its PSPNet-50 labels with the seeded weights of bench/seeded_weights.py. Here the
same weights go through a published-layout file and segdemo's own loader.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench.seeded_weights import apply_seeded_weights
from segdemo import architectures, images, pipelines, registry, runtime, samples
from tests.legacy_h5_writer import write_legacy_weights

FIXTURE = Path(__file__).parent / "data" / "keras_segmentation_reference.npz"
KEY = "pspnet_ade20k"
PHOTO = "voc_horse_rider"
SEED = 1  # the seed the fixture was recorded with


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE)


@pytest.fixture(scope="module")
def photo():
    path = next(photo.image for photo in samples.photos() if photo.image.stem == PHOTO)
    return images.load(path)


def _resized_bgr(batch: np.ndarray, pipeline: pipelines.PSPNetPipeline) -> np.ndarray:
    """Our network input back as the 8-bit image it was made from (RGB order, means subtracted)."""
    return np.rint(batch[0][..., ::-1] + np.float32(pipeline.mean_bgr)).astype(np.uint8)


def test_the_photo_is_not_square(photo):
    assert photo.shape[0] != photo.shape[1]


def test_network_input_is_the_library_input(reference, photo):
    pipeline = registry.get(KEY).pipeline("keras_segmentation")
    batch = pipeline.preprocess(photo).batch
    resized = _resized_bgr(batch, pipeline)
    # The input is exactly an 8-bit image minus the means: the library resizes before converting.
    assert np.array_equal(resized.astype(np.float32)[..., ::-1] - np.float32(pipeline.mean_bgr)[::-1], batch[0])
    rows = reference[f"{PHOTO}/resized_rows"]
    largest = int(np.abs(resized[::16].astype(int) - rows).max())
    assert hashlib.sha256(resized.tobytes()).hexdigest() == str(reference[f"{PHOTO}/resized_sha256"]), (
        f"differs from the library's input by up to {largest} grey levels"
    )


def test_resizing_the_float_image_would_be_caught(reference, photo):
    """The check above can fail: the float resize (the defect issue 10 §3 fixed) gives another input."""
    library = registry.get(KEY).pipeline("keras_segmentation")
    float_resize = pipelines.PSPNetPipeline(**{**library.__dict__, "resize_uint8": False})
    batch = float_resize.preprocess(photo).batch
    unrounded = batch[0][..., ::-1] + np.float32(library.mean_bgr)
    assert np.abs(unrounded - np.rint(unrounded)).max() > 0.1  # not an 8-bit image any more


@pytest.fixture(scope="module")
def seeded_weights_dir(tmp_path_factory):
    """The fixture's weights in the published file's Keras-2 layout, found through SEGDEMO_WEIGHTS_DIR."""
    import keras

    spec = registry.get(KEY)
    folder = tmp_path_factory.mktemp("seeded")
    model = architectures.build(spec.architecture, **spec.arch_kwargs, **spec.pipeline("keras_segmentation").network_options)
    apply_seeded_weights(model, SEED)
    write_legacy_weights(model, folder / spec.weights_file)
    del model
    keras.backend.clear_session()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGDEMO_WEIGHTS_DIR", str(folder))
        patch.setenv("SEGDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("SEGDEMO_PRECISION", "exact")
        runtime.clear()
        yield folder
    runtime.clear()


@pytest.fixture(autouse=True)
def isolated_cache():
    """One cache for the module (the suite's default is one per test): the file is converted once."""


@pytest.mark.slow
def test_labels_are_the_library_labels(reference, photo, seeded_weights_dir):
    import segdemo

    result = segdemo.predict(photo, KEY, 0.0, pipeline="keras_segmentation")
    library = reference[f"{PHOTO}/labels"].astype(np.int32)
    assert len(np.unique(library)) > 1  # the seeded network does not paint one class everywhere
    # predict() enlarges the network-resolution labels by nearest neighbour, as the library's are shown.
    import cv2

    enlarged = cv2.resize(library, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_NEAREST)
    agreement = float((result.labels == enlarged).mean())
    assert agreement >= 0.999, f"{agreement:.4%} of the labels equal the library's"
