"""The bad-input corpus (tests/bad_inputs.py) through `images.load`, `predict` and the real app.

Every file gives either a correct result or a ValueError / app error whose text is our own
readable message (a keyword per case), never a stack trace or Gradio's generic "upstream app
raised an exception". After the whole corpus the app still answers a normal request.
"""

from __future__ import annotations

import bad_inputs
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import segdemo
from segdemo import images

GENERIC_ERROR_MARKERS = ("upstream", "traceback", "has raised an exception")
SLOW_CASES = {"large_photo"}  # 25 megapixels: several seconds per call on a busy 2-core machine
CASES = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_CASES else name for name in bad_inputs.NAMES]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, bad_inputs.Case]:
    return bad_inputs.build(tmp_path_factory.mktemp("corpus"))


def assert_readable(message: str, keyword: str) -> None:
    """Our message with the case's keyword, not a stack trace or Gradio's generic text."""
    assert keyword.lower() in message.lower(), f"expected {keyword!r} in: {message}"
    assert not any(marker in message.lower() for marker in GENERIC_ERROR_MARKERS), message


def test_every_builder_writes_its_own_file(corpus):
    # One case per builder: two builders of one name would leave one case out of the dict.
    assert len(corpus) == len(bad_inputs.BUILDERS)
    assert len({case.path for case in corpus.values()}) == len(corpus)  # no case overwrites another's file
    for name, case in corpus.items():
        assert case.path.is_file() and case.name == case.path.name, name
        # A case expects either a result of a known shape or an error, never both or neither.
        assert (case.shape is not None) == case.expects_result, name
    assert {case.expects_result for case in corpus.values()} == {True, False}


# --- the library -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", bad_inputs.NAMES)
def test_load(corpus, name):
    case = corpus[name]
    if not case.expects_result:
        with pytest.raises(ValueError) as error:
            images.load(case.path)
        assert_readable(str(error.value), case.error)
        return
    pixels = images.load(case.path)
    assert pixels.dtype == np.uint8 and pixels.shape == case.shape
    if case.check is not None:
        case.check(pixels)


@pytest.mark.parametrize("name", CASES)
def test_predict(corpus, name):
    """fcn (fully convolutional, committed weights): labels at the input's full resolution."""
    case = corpus[name]
    if not case.expects_result:
        with pytest.raises(ValueError) as error:
            segdemo.predict(case.path, "fcn", 0.5)
        assert_readable(str(error.value), case.error)
        return
    result = segdemo.predict(case.path, "fcn", 0.5)
    height, width = case.shape[:2]
    assert result.labels.shape == result.scores.shape == (height, width)
    assert result.overlay.shape == (height, width, 3)
    assert set(np.unique(result.labels).tolist()) <= {0, 1}
    assert abs(sum(result.class_fractions.values()) - 1.0) < 1e-6


# --- the real app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(default_app):
    """The session's shared default app (conftest)."""
    return default_app


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", bad_inputs.NAMES)
def test_app_predict_endpoint(client, corpus, name):
    case = corpus[name]
    keyword = case.app_expectation()
    if keyword is not None:
        with pytest.raises(Exception) as error:
            client.predict(handle_file(str(case.path)), "fcn", 0.5, api_name="/predict")
        assert_readable(str(error.value), keyword)
        return
    overlay_path, summary = client.predict(handle_file(str(case.path)), "fcn", 0.5, api_name="/predict")
    height, width = case.shape[:2]
    assert (summary["height"], summary["width"]) == (height, width)
    with Image.open(overlay_path) as overlay:
        assert overlay.size == (width, height)


# Every other endpoint that takes an image, called by its parameter names with the corpus file as
# the image (the rest left at their defaults). The 25-megapixel photo goes through /predict only: in
# the others it would cost minutes and test nothing the small files do not.
OTHER_ENDPOINTS = [
    pytest.param("/compare", {"model_keys": ["fcn", "unet"]}, id="compare"),
    pytest.param("/compare_large", {"model_keys": ["fcn_aug"]}, id="compare_large"),
    pytest.param("/compare_membrane", {"model_keys": ["membrane_unet"]}, id="compare_membrane"),
    pytest.param("/photos", {"model_keys": ["pspnet_voc"]}, id="photos"),
    pytest.param("/feature_maps", {"model_key": "unet"}, id="feature_maps"),
    pytest.param("/skip_comparison", {"family": "eliret"}, id="skip_comparison_eliret"),
    pytest.param("/skip_comparison", {"family": "membrane"}, id="skip_comparison_membrane"),
    pytest.param("/pyramid", {"model_key": "pspnet_voc"}, id="pyramid"),
    pytest.param("/receptive_field", {"model_key": "pspnet_voc"}, id="receptive_field"),
]
# The test app has no PSPNet weights (it runs offline): a file that loads gets this answer from /pyramid.
NO_WEIGHTS_KEYWORD = "weights"


@pytest.mark.slow
@pytest.mark.parametrize(("endpoint", "options"), OTHER_ENDPOINTS)
def test_app_other_endpoints(client, corpus, endpoint, options):
    """Each corpus file as the endpoint's image: a result, or our message with the case's keyword."""
    wrong = []
    for name, case in corpus.items():
        if name in SLOW_CASES:
            continue
        expected = case.app_expectation()
        without_weights = expected is None and endpoint == "/pyramid"  # may answer once the weights are here
        keyword = NO_WEIGHTS_KEYWORD if without_weights else expected
        try:
            client.predict(image=handle_file(str(case.path)), **options, api_name=endpoint)
        except Exception as error:  # gradio_client raises AppError, or ValueError for an upload it refuses
            message = str(error)
            if keyword is None:
                wrong.append(f"{name}: {message[:200]}")
            else:
                try:
                    assert_readable(message, keyword)
                except AssertionError as failure:
                    wrong.append(f"{name}: {str(failure)[:200]}")
            continue
        if keyword is not None and not without_weights:
            wrong.append(f"{name}: answered; expected a message with {keyword!r}")
    assert not wrong, f"{endpoint} {options}:\n" + "\n".join(wrong)


@pytest.mark.slow
def test_the_server_itself_refuses_an_upload_over_the_limit(app, corpus):
    """A client that skips gradio_client's own size check (a script, curl) is refused too."""
    case = corpus["over_upload_limit_bmp"]
    with open(case.path, "rb") as file:
        response = httpx.post(f"{app.url}gradio_api/upload", files={"files": (case.path.name, file)}, timeout=60)
    assert response.status_code == 413
    assert_readable(response.text, bad_inputs.UPLOAD_LIMIT_KEYWORD)


@pytest.mark.slow
def test_the_app_still_answers_correctly_after_the_corpus(app, client, tmp_path):
    """Runs after the corpus (file order): the same overlay and fractions as the library gives."""
    image = np.full((72, 88), 255, np.uint8)
    image[20:50, 30:60] = 0  # a dark square on white, as the eliret objects
    path = tmp_path / "square.png"
    Image.fromarray(image).save(path)
    overlay_path, summary = client.predict(handle_file(str(path)), "fcn", 0.5, api_name="/predict")
    expected = segdemo.predict(path, "fcn", 0.5)
    with Image.open(overlay_path) as overlay:
        assert np.array_equal(np.asarray(overlay.convert("RGB")), expected.overlay)
    assert summary["class_fractions"] == pytest.approx(expected.class_fractions, abs=1e-6)
    assert app.process.poll() is None, "the app process died"
