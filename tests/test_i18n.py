"""Portuguese and English without a browser: the string tables, the language a request gets,
segdemo's messages translated, class names, model texts, and the membrane threshold's direction."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest
from prerequisites import missing

import app  # noqa: F401  (imports every tab: their STRINGS tables register)
from segdemo import compare, images, inside, palettes, registry, samples
from segdemo.distortions import Distortions
from segdemo.predict import predict
from ui import class_names_pt, common, i18n, messages
from ui.tabs import membranes


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_has_both_languages_with_the_same_placeholders():
    table = i18n.strings()
    assert len(table) > 80
    for key, (english, portuguese) in table.items():
        assert english.strip() and portuguese.strip(), key
        assert placeholders(english) == placeholders(portuguese), key


def test_portuguese_texts_are_portuguese():
    """Long texts differ between the languages (a copied English text would pass the test above)."""
    table = i18n.strings()
    long_ones = [key for key, (english, _) in table.items() if len(english) > 40]
    assert len(long_ones) > 20
    for key in long_ones:
        english, portuguese = table[key]
        assert english != portuguese, key
    # The lecture's own words are used.
    everything = " ".join(portuguese for _, portuguese in table.values())
    for word in ("limiar", "binarizada", "saída ideal", "aumento de dados", "conexões de atalho", "níveis de cinza"):
        assert word in everything, word


def test_unknown_key_is_refused():
    with pytest.raises(ValueError, match="Unknown UI string"):
        i18n.t("sd_no_such_key")
    with pytest.raises(ValueError, match="defined twice"):
        i18n.register({"sd_models": ("Different", "Diferente")})


@pytest.mark.parametrize(
    ("accept_language", "cookie", "expected"),
    [
        ("pt-BR,pt;q=0.9,en-US;q=0.8", None, "pt"),
        ("pt-PT", None, "pt"),
        ("PT", None, "pt"),
        ("en-US,en;q=0.9,pt-BR;q=0.8", None, "en"),
        ("en;q=0.4, pt-BR;q=0.9", None, "pt"),
        ("fr-FR,fr;q=0.9", None, "en"),
        ("", None, "en"),
        (None, None, "en"),
        ("en-US", "pt-BR", "pt"),
        ("pt-BR", "en", "en"),
    ],
)
def test_request_language(accept_language, cookie, expected):
    assert i18n.pick(accept_language, cookie) == expected


def segdemo_errors(tmp_path) -> list[str]:
    """Messages segdemo really raises, for bad input a student could send."""
    broken = tmp_path / "notes.png"
    broken.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((samples.lecture_test_images()[0].image).read_bytes()[:200])
    calls = [
        lambda: images.load(str(broken)),
        lambda: images.load(str(empty)),
        lambda: images.load(str(truncated)),
        lambda: images.load(np.zeros((0, 4), np.uint8)),
        lambda: images.load(np.full((4, 4), np.nan, np.float32)),
        lambda: compare.compare(np.zeros((32, 32), np.uint8), []),
        lambda: compare.compare(np.zeros((32, 32), np.uint8), ["fcn"], 0.5, np.zeros((16, 16), np.uint8)),
        lambda: registry.get("no_such_model"),
        lambda: images.load(np.array([[2.0]], np.float32)),
        lambda: images.load(np.array([[-1, 2]], np.int16)),
        lambda: images.load(np.array([[70000]], np.int64)),
        lambda: images.load(5),
        # The "Look inside" tab: every check here runs before a model or TensorFlow loads.
        lambda: inside.building_block([["a", "b"]], "max_pool"),
        lambda: inside.building_block(np.ones((20, 20)), "max_pool"),
        lambda: inside.building_block([[np.nan]], "max_pool"),
        lambda: inside.building_block(np.ones((4, 4)), "conv_stride2", [["x"] * 3] * 3),
        lambda: inside.building_block(np.ones((4, 4)), "conv_stride2", np.ones((2, 2))),
        lambda: inside.building_block(np.ones((4, 4)), "conv_stride2", np.ones((3, 3)), "nothing"),
        lambda: inside.building_block(np.ones((2, 2)), "dilated_conv", padding="valid"),
        lambda: inside.building_block(np.ones((4, 4)), "fft"),
        lambda: inside.feature_maps(np.zeros((8, 8)), "pspnet_voc", "conv6"),
        lambda: inside.skip_comparison(np.zeros((8, 8)), "nowhere"),
        lambda: inside.pyramid(np.zeros((8, 8)), "unet"),
        lambda: inside.pyramid(np.zeros((8, 8)), "pspnet_voc", off=(4,)),
        lambda: inside.receptive_field(np.zeros((8, 8)), "pspnet_voc", point=(2.0, 0.5)),
        lambda: inside.receptive_field(np.zeros((8, 8)), "unet"),
        lambda: predict(np.zeros((32, 32), np.uint8), "unet", 0.5, tta=True),
        lambda: predict(np.zeros((32, 32), np.uint8), "membrane_unet", 0.5, tta="yes"),
        lambda: Distortions(elastic=-1.0),
    ]
    found = []
    for call in calls:
        with pytest.raises(ValueError) as error:
            call()
        found.append(str(error.value))
    return found


def test_segdemo_messages_are_translated(tmp_path):
    for message in segdemo_errors(tmp_path):
        portuguese = messages.translate(message, "pt")
        assert portuguese != message, message
        assert messages.translate(message, "en") == message
    assert messages.translate("The ground truth is 16×16 but the image is 32×32.", "pt") == (
        "A saída ideal (ground truth) tem 16×16, mas a imagem tem 32×32."
    )


def test_each_tab_is_numbered_by_its_place_in_the_order():
    """The tab names carry their number ("8 · API"), and each module's first line says "Tab 8:":
    both must follow ui.tabs.ORDER when a tab is added or moved."""
    from ui.tabs import ORDER

    for number, module in enumerate(ORDER, start=1):
        english, portuguese = module.STRINGS[module.TITLE_KEY]
        assert english.startswith(f"{number} · ") and portuguese.startswith(f"{number} · "), module.__name__
        assert module.__doc__.startswith(f"Tab {number}:"), module.__name__


def test_a_message_without_translation_is_shown_as_it_is():
    assert messages.translate("Something new went wrong.", "pt") == "Something new went wrong."


@pytest.mark.parametrize(
    "classes",
    [
        palettes.VOC_CLASSES,
        palettes.CITYSCAPES_CLASSES,
        palettes.ADE20K_CLASSES,
        palettes.BINARY_CLASSES,
        palettes.MEMBRANE_CLASSES,
    ],
)
def test_every_class_has_a_distinct_portuguese_name(classes):
    names = class_names_pt.portuguese(classes)
    translated = [names[name] for name in classes]
    assert len(set(translated)) == len(classes)  # the legend tells classes apart by name
    table = class_names_pt.TABLES[classes]
    assert set(table) == set(classes)
    # Most names change (a few, like "animal" or "bar", are the same word in both languages).
    assert sum(names[name] != name for name in classes) >= 0.8 * len(classes)


def test_model_texts_follow_the_registry():
    """The UI shows each registry description, translated: the English must be the registry's."""
    for key, spec in registry.REGISTRY.items():
        assert key in common.MODEL_TEXT, key
        (title_en, title_pt), (about_en, about_pt) = common.MODEL_TEXT[key]
        assert title_en == spec.title and about_en == spec.description, key
        assert about_pt != about_en, key
        assert common.model_title(key, "pt") == title_pt


def test_figure_words_are_drawn_in_the_chosen_language():
    english = compare.figure(np.zeros((32, 32), np.uint8), None, [])
    portuguese = compare.figure(
        np.zeros((32, 32), np.uint8), None, [], captions={"input": "imagem de entrada", "no_truth": "sem saída ideal"}
    )
    assert english.shape == portuguese.shape and not np.array_equal(english, portuguese)


def test_membrane_threshold_works_as_the_lectures_qp():
    """White (cell interior) where qp >= threshold: lowering the threshold whitens more pixels, and
    the binarized output is exactly qp >= threshold away from ties."""
    weights = registry.get("membrane_unet")
    from segdemo import weights as weight_files

    if not weight_files.local_path(weights).exists():
        missing("membrane_unet weights are not in weights/")
    slice_path = samples.membrane_labelled()[0].image
    interior = {}
    for threshold in (0.3, 0.5, 0.7):
        result = predict(str(slice_path), "membrane_unet", membranes.lecture_threshold(threshold))
        white = result.labels == 0  # library labels: 1 = membrane
        near_tie = np.abs(result.raw - threshold) < 1e-6
        assert np.array_equal(white[~near_tie], (result.raw >= threshold)[~near_tie])
        interior[threshold] = white.mean()
    assert interior[0.3] > interior[0.5] > interior[0.7]


def test_no_key_is_left_in_the_figure_captions():
    from ui import comparison

    for language in i18n.LANGUAGES:
        words = comparison.captions(language)
        assert set(words) == set(compare.CAPTIONS)
        assert not any(re.match(r"sd_", text) for text in words.values())


@pytest.mark.slow
@pytest.mark.own_app
def test_the_language_script_reaches_the_page_with_the_spaces_ssr_setting(tmp_path):
    """Spaces run Gradio with GRADIO_SSR_MODE=true: a Node server would render the page, without
    the script that applies ?lang= and the language buttons before Gradio starts."""
    import urllib.request

    from app_server import running_app

    with running_app(tmp_path / "app.log", env={"GRADIO_SSR_MODE": "true"}) as running:
        with urllib.request.urlopen(running.url, timeout=30) as response:
            page = response.read().decode()
        log = running.log.read_text(errors="replace")
    head = page[page.index("<head>") : page.index("</head>")]
    assert head.startswith("<head>" + i18n.HEAD_SCRIPT)
    assert "SSR" not in log
