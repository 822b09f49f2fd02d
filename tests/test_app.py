"""End to end: start the real app on a free port and call it with gradio_client."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from app_server import running_app
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # the app server: 50 s of make test-fast's 320 s under load


@pytest.fixture(scope="module")
def app_url(data_dir, default_app):
    """The session's shared default app (conftest)."""
    return default_app.url


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_predict_endpoint_returns_a_png_overlay_and_a_summary(client, eliret_dir):
    overlay_path, summary = client.predict(handle_file(str(eliret_dir / "maior1x.png")), "unet_aug", 0.5, api_name="/predict")
    assert Path(overlay_path).suffix == ".png"
    with Image.open(overlay_path) as overlay:
        assert overlay.format == "PNG" and overlay.size == (88, 72)
    assert summary["model"] == "unet_aug"
    assert set(summary["class_fractions"]) <= {"background", "object"}
    assert 0.05 < summary["class_fractions"]["object"] < 0.2  # maior1: four objects, 9.8 % of the pixels
    assert summary["seconds"] > 0


def test_compare_endpoint_scores_against_the_truth(client, eliret_dir):
    figure_path, table = client.predict(
        handle_file(str(eliret_dir / "075x.png")),
        handle_file(str(eliret_dir / "075y.png")),
        ["fcn", "unet"],
        0.5,
        api_name="/compare",
    )
    with Image.open(figure_path) as figure:
        assert figure.format == "PNG"
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == {"FCN", "U-Net"}
    assert all(0.0 <= rows[name][1] <= 0.05 and rows[name][2] >= 0.8 for name in rows)


def test_bad_input_gets_our_message_and_the_app_keeps_serving(client, tmp_path, eliret_dir):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(fake)), "unet", 0.5, api_name="/predict")
    assert "image" in str(error.value).lower()
    with pytest.raises(Exception, match="no_such_model is not in the list of choices"):
        client.predict(handle_file(str(eliret_dir / "075x.png")), "no_such_model", 0.5, api_name="/predict")
    _, summary = client.predict(handle_file(str(eliret_dir / "075x.png")), "fcn", 0.5, api_name="/predict")
    assert summary["model"] == "fcn"


def test_the_api_names_what_each_endpoint_takes_and_returns(client, eliret_dir):
    """view_api() names inputs and outputs as the English page does (not by translation keys), marks
    the optional ground truth optional, and the API tab's examples run with the names it gives."""
    import re

    import app  # noqa: F401  (every tab's strings registered)
    from ui import i18n
    from ui.tabs import api

    english = {pair[0] for pair in i18n.strings().values()}
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, endpoint in endpoints.items():
        for item in (*endpoint["parameters"], *endpoint["returns"]):
            assert item["label"] in english, f"{name}: {item['label']!r} is not a label of the English page"
        for parameter in endpoint["parameters"]:
            assert re.fullmatch(r"[a-z][a-z_]*", parameter["parameter_name"]), (name, parameter["parameter_name"])
    for name in ("/compare", "/compare_large", "/compare_membrane"):
        truth = endpoints[name]["parameters"][1]
        assert (truth["parameter_name"], truth["parameter_has_default"], truth["parameter_default"]) == ("truth", True, None)
    assert endpoints["/feature_maps"]["parameters"][2]["parameter_has_default"]  # empty: the model's default layer
    printed = client.view_api(print_info=False, return_format="str")
    assert "-> (overlay, summary)" in printed and "-> (input_and_outputs_per_model, scores)" in printed
    assert not re.search(r"\b(key|value_\d+|param_\d+)\b[:,)]", printed)

    # The API tab's two examples call their endpoints by these names; run them as written.
    example = api.STRINGS["sd_api_example"][0]
    for call in re.findall(r"client\.predict\((.*?)api_name=\"(/\w+)\"\)", example, re.S):
        keywords, endpoint = re.findall(r"(\w+)=", call[0]), call[1]
        assert set(keywords) <= {parameter["parameter_name"] for parameter in endpoints[endpoint]["parameters"]}, endpoint
    image = handle_file(str(eliret_dir / "075x.png"))
    overlay, summary = client.predict(image=image, model_key="unet", threshold=0.5, api_name="/predict")
    assert summary["model"] == "unet" and Path(overlay).suffix == ".png"
    figure, scores = client.predict(image=image, model_keys=["fcn", "unet"], api_name="/compare")
    assert [row[0] for row in scores["data"]] == ["FCN", "U-Net"]
    assert all(row[1] is None and row[2] is None for row in scores["data"])  # no truth given: no MSE, no IoU


def test_uploaded_colour_photo_works_with_a_grey_model(client, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)).save(photo)
    overlay_path, summary = client.predict(handle_file(str(photo)), "fcn", 0.5, api_name="/predict")
    assert (summary["height"], summary["width"]) == (120, 90)


def test_health_endpoint_reports_models_and_weights(app_url):
    import json

    with urllib.request.urlopen(app_url + "health", timeout=10) as response:
        report = json.loads(response.read())
    assert report["status"] == "ok"
    assert report["models"]["fcn"]["weights"] == "present"
    # The test app runs offline (tests/app_server.py) and no published PSPNet file is on this
    # machine: the report says the weights are missing (not "downloadable"), nothing is fetched.
    assert report["offline"] is True
    assert report["models"]["pspnet_voc"]["weights"] == "missing"
    assert set(report["models"]) == set(__import__("segdemo").MODEL_KEYS)


def test_weights_folder_is_not_served(app_url):
    for path in ("file=weights/fcn.weights.h5", "gradio_api/file=weights/fcn.weights.h5"):
        try:
            with urllib.request.urlopen(app_url + path, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (403, 404), path


def test_photo_tab_explains_missing_pspnet_weights(client, tmp_path):
    photo = tmp_path / "street.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    gallery, table = client.predict(handle_file(str(photo)), ["pspnet_voc"], "original", 0.0, 0.5, api_name="/photos")
    # This machine cannot reach the published files: the answer names the file instead of failing.
    assert gallery == []
    assert table["data"][0][0] == "PSPNet-101 (Pascal VOC 2012)"
    assert "pspnet101_voc2012.h5" in table["data"][0][2]


@pytest.mark.own_app
def test_augmentation_preview_right_after_start(tmp_path):
    """The preview imports TensorFlow while the start-up warm-up is importing it too (two
    threads importing TensorFlow at once once broke the app's first request): it needs an app
    that has just started, not the shared one."""
    with running_app(tmp_path / "app.log") as app:
        figure_path, next_seed = Client(app.url, verbose=False).predict("eliret", 3, api_name="/augmentation_preview")
        assert "Traceback" not in app.log_tail(20000)
    with Image.open(figure_path) as figure:
        assert figure.format == "PNG" and figure.size[0] > 400
    assert next_seed == 4


def test_a_portuguese_browser_gets_portuguese_tables_and_errors(app_url, eliret_dir, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    portuguese = Client(app_url, verbose=False, headers={"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.8"})
    with pytest.raises(Exception, match="Escolha pelo menos um modelo para comparar"):
        portuguese.predict(handle_file(str(eliret_dir / "075x.png")), None, [], 0.5, api_name="/compare")
    with pytest.raises(Exception, match="não é uma imagem"):
        portuguese.predict(handle_file(str(fake)), "unet", 0.5, api_name="/predict")
    _, table = portuguese.predict(handle_file(str(eliret_dir / "maior1x.png")), None, ["fcn_aug"], 0.5, api_name="/compare_large")
    assert table["headers"][:3] == ["modelo", "MSE x saída ideal", "IoU x saída ideal"]
    assert table["data"][0][0] == "FCN + aumento de dados"
    # The same request from a client without a language: English.
    _, table = Client(app_url, verbose=False).predict(
        handle_file(str(eliret_dir / "maior1x.png")), None, ["fcn_aug"], 0.5, api_name="/compare_large"
    )
    assert table["headers"][0] == "model" and table["data"][0][0] == "FCN + augmentation"


def test_sizes_that_do_not_divide_by_8_are_padded_and_the_table_says_so(client, tmp_path):
    odd = tmp_path / "odd.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (75, 90), dtype=np.uint8)).save(odd)
    figure_path, table = client.predict(handle_file(str(odd)), None, ["fcn", "unet"], 0.5, api_name="/compare")
    assert all("96×80" in row[-1] and "8" in row[-1] for row in table["data"])
    even = tmp_path / "even.png"
    Image.fromarray(np.zeros((80, 96), np.uint8)).save(even)
    _, table = client.predict(handle_file(str(even)), None, ["fcn"], 0.5, api_name="/compare")
    assert table["data"][0][-1] == ""


def test_membrane_threshold_follows_the_lecture(client):
    """qp >= threshold is cell interior: a lower threshold leaves fewer membrane pixels."""
    slice_path = ROOT / "examples" / "membrane" / "slice_20.png"
    membrane_share = {}
    for threshold in (0.2, 0.8):
        _, table = client.predict(handle_file(str(slice_path)), None, ["membrane_unet"], threshold, api_name="/compare_membrane")
        membrane_share[threshold] = table["data"][0][4]
    assert membrane_share[0.2] < membrane_share[0.8]


def grid_cell(figure: Image.Image, row: int, column: int, gap: int = 8) -> np.ndarray:
    """One cell of segdemo.render.grid's figure, as the preview tab draws it."""
    from ui.tabs.augmentation import CELL as size
    from ui.tabs.augmentation import TOOLBAR

    caption = 18 + TOOLBAR

    left, top = gap + column * (size + gap), caption + gap + row * (size + gap)
    return np.asarray(figure.convert("L"))[top : top + size, left : left + size]


@pytest.mark.parametrize("dataset", ["eliret", "membrane"])
def test_augmentation_preview_with_one_control_per_distortion(client, dataset):
    still_path, next_seed = client.predict(dataset, 5, 0, 0.0, 0, 0.0, False, api_name="/augmentation_preview")
    rotated_path, _ = client.predict(dataset, 5, 45, 0.0, 0, 0.0, False, api_name="/augmentation_preview")
    assert next_seed == 6
    with Image.open(still_path) as still, Image.open(rotated_path) as rotated:
        # All distortions off: each augmented image is its original; rotation alone moves them.
        assert np.array_equal(grid_cell(still, 0, 0), grid_cell(still, 0, 2))
        assert np.array_equal(grid_cell(still, 0, 1), grid_cell(still, 0, 3))
        assert not np.array_equal(grid_cell(rotated, 0, 0), grid_cell(rotated, 0, 2))


def test_membrane_test_time_augmentation_adds_a_row_per_model_with_its_scores_and_time(client):
    slice_path = ROOT / "examples" / "membrane" / "slice_20.png"
    label_path = ROOT / "examples" / "membrane" / "slice_20_label.png"
    figure_path, table = client.predict(
        handle_file(str(slice_path)), handle_file(str(label_path)), ["membrane_unet_256"], 0.5, True, api_name="/compare_membrane"
    )
    plain, averaged = table["data"]
    assert averaged[0] == f"{plain[0]} + TTA (8 views)"
    assert 0.6 < plain[2] < 0.8 and 0.6 < averaged[2] < 0.8 and plain[2] != averaged[2]  # IoU of each
    assert plain[3] > 0 and averaged[3] > 0  # each row its own time (bench.membrane_errors measures them)
    with Image.open(figure_path) as figure:
        assert figure.height > 500  # input row and two model blocks
    _, unticked = client.predict(
        handle_file(str(slice_path)), None, ["membrane_unet_256"], 0.5, False, api_name="/compare_membrane"
    )
    assert len(unticked["data"]) == 1


def test_augmentation_preview_elastic_moves_the_mask_and_intensity_does_not(client):
    still_path, _ = client.predict("membrane", 5, 0, 0.0, 0, 0.0, False, 0, 0.0, 0.0, 0.0, api_name="/augmentation_preview")
    elastic_path, _ = client.predict("membrane", 5, 0, 0.0, 0, 0.0, False, 20, 0.0, 0.0, 0.0, api_name="/augmentation_preview")
    light_path, _ = client.predict("membrane", 5, 0, 0.0, 0, 0.0, False, 0, 0.3, 0.5, 0.5, api_name="/augmentation_preview")
    with Image.open(still_path) as still, Image.open(elastic_path) as elastic, Image.open(light_path) as light:
        for row in range(2):
            assert not np.array_equal(grid_cell(elastic, row, 3), grid_cell(still, row, 3))
            assert not np.array_equal(grid_cell(elastic, row, 2), grid_cell(still, row, 2))
            assert np.array_equal(grid_cell(light, row, 3), grid_cell(still, row, 3))
            assert not np.array_equal(grid_cell(light, row, 2), grid_cell(still, row, 2))
