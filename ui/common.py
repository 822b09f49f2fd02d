"""What every tab uses: the upload widget, result files, model names and descriptions in both
languages, and segdemo's ValueErrors turned into translated gr.Error messages."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
from gradio.i18n import I18nData

from segdemo import maps, registry
from ui import i18n, messages
from ui.i18n import t

OUTPUT_FOLDER = Path(tempfile.gettempdir()) / "segdemo-outputs"
OUTPUT_MAX_AGE_S = 3600
OUTPUT_PRUNE_INTERVAL_S = 60.0
"""The output folder is scanned for old files at most this often, not once per result file: a class's
busy hour leaves thousands of entries there, and a file may outlive its hour by a minute."""
_last_pruned: float | None = None  # time.monotonic() of the last scan
FAST_PNG_LEVEL = 1  # zlib level of the result pictures (see png_file)

# Model titles and descriptions in both languages. The registry's English ones are the
# library's; these are what the UI shows (the lecture's own words where it has them).
MODEL_TEXT: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "fcn": (
        ("FCN", "FCN"),
        (
            "Lecture program 2: three strided 5×5 convolutions down, three transposed up; MSE.",
            "Programa 2 da aula: três convoluções 5×5 com passo 2 para baixo, três transpostas para cima; erro quadrático médio (MSE).",
        ),
    ),
    "unet": (
        ("U-Net", "U-Net"),
        (
            "Lecture program 4: four-level U-Net with skip connections, sigmoid output; MSE.",
            "Programa 4 da aula: U-Net de quatro níveis com conexões de atalho (skip), saída sigmoide; MSE.",
        ),
    ),
    "fcn_aug": (
        ("FCN + augmentation", "FCN + aumento de dados"),
        (
            "The same FCN trained on randomly shifted (±70 %) and flipped copies: finds off-centre objects.",
            "A mesma FCN treinada com cópias deslocadas (±70 %) e espelhadas ao acaso: acha objetos fora do centro.",
        ),
    ),
    "unet_aug": (
        ("U-Net + augmentation", "U-Net + aumento de dados"),
        (
            "The same U-Net trained on randomly shifted and flipped copies: sharp corners on large images.",
            "A mesma U-Net treinada com cópias deslocadas e espelhadas ao acaso: cantos nítidos nas imagens grandes.",
        ),
    ),
    "fcn_skip": (
        ("FCN + skips (homework)", "FCN + atalhos (lição de casa)"),
        (
            "Homework: the FCN with U-Net-style skip connections between same-size maps.",
            "Lição de casa: a FCN com conexões de atalho (skip) entre mapas do mesmo tamanho, como na U-Net.",
        ),
    ),
    "unet_strided": (
        ("U-Net, 3×3 only (homework)", "U-Net só com 3×3 (lição de casa)"),
        (
            "Homework: a U-Net of 3×3 convolutions only: strided convolutions down, transposed up.",
            "Lição de casa: uma U-Net só de convoluções 3×3: convoluções com passo 2 para baixo, transpostas para cima.",
        ),
    ),
    "membrane_unet": (
        ("Membrane U-Net", "U-Net de membranas"),
        (
            "Lecture programs 6–8: U-Net with BatchNormalization on ISBI-2012 EM slices (32 base filters for the CPU).",
            "Programas 6–8 da aula: U-Net com BatchNormalization nas fatias de microscopia eletrônica do ISBI-2012 (32 filtros na base, pela CPU).",
        ),
    ),
    "membrane_noskip": (
        ("Membrane U-Net, no skips", "U-Net de membranas, sem atalhos"),
        (
            "The lecture exercise: the same network without skip connections, to see why skips matter.",
            "O exercício da aula: a mesma rede sem conexões de atalho (skip), para ver por que elas importam.",
        ),
    ),
    "membrane_unet_256": (
        ("Membrane U-Net, 256×256", "U-Net de membranas, 256×256"),
        (
            "The lecture exercise after program 7: the same U-Net at 256×256, where membranes are 2–4 pixels wide.",
            "O exercício depois do programa 7: a mesma U-Net em 256×256, onde as membranas têm 2–4 pixels de largura.",
        ),
    ),
    "pspnet_voc": (
        ("PSPNet-101 (Pascal VOC 2012)", "PSPNet-101 (Pascal VOC 2012)"),
        (
            "Lecture program 9: 20 object classes (people, animals, vehicles, furniture) and background.",
            "Programa 9 da aula: 20 classes de objetos (pessoas, animais, veículos, móveis) e o fundo.",
        ),
    ),
    "pspnet_ade20k": (
        ("PSPNet-50 (ADE20K)", "PSPNet-50 (ADE20K)"),
        (
            "Lecture program 9: 150 scene classes (wall, sky, floor, tree, person, table, ...).",
            "Programa 9 da aula: 150 classes de cenas (parede, céu, piso, árvore, pessoa, mesa, ...).",
        ),
    ),
    "pspnet_cityscapes": (
        ("PSPNet-101 (Cityscapes)", "PSPNet-101 (Cityscapes)"),
        (
            "Lecture program 9: 19 street-scene classes (road, car, person, building, sky, ...).",
            "Programa 9 da aula: 19 classes de cenas de rua (rua, carro, pessoa, prédio, céu, ...).",
        ),
    ),
}

STRINGS = i18n.register(
    {
        "sd_models": ("Models", "Modelos"),
        "sd_model": ("Model", "Modelo"),
        "sd_image": ("Image", "Imagem"),
        "sd_no_image": ("Upload an image or choose an example first.", "Envie uma imagem ou escolha um exemplo primeiro."),
        "sd_weights_missing_short": ("weights not on this server", "pesos ausentes neste servidor"),
        **{f"sd_model_{key}": titles for key, (titles, _) in MODEL_TEXT.items()},
        **{
            f"sd_model_{key}_about": (f"**{titles[0]}**: {about[0]}", f"**{titles[1]}**: {about[1]}")
            for key, (titles, about) in MODEL_TEXT.items()
        },
    }
)


def model_title(key: str, language: str) -> str:
    """A model's title in `language` (the registry's English title when there is no entry)."""
    if key in MODEL_TEXT:
        return i18n.text(f"sd_model_{key}", language)
    return registry.get(key).title


def model_choices(keys: list[str]) -> list[tuple[I18nData | str, str]]:
    """(label, key) pairs for a checkbox group or dropdown; labels translated in the browser."""
    return [(t(f"sd_model_{key}") if key in MODEL_TEXT else registry.get(key).title, key) for key in keys]


def model_descriptions(keys: list[str], shown: str | None = None) -> list[gr.Markdown]:
    """One Markdown line per model, "**title**: description", shown beside the model choice
    (the registry's description, in the page's language).

    Args:
        keys: the models, in order.
        shown: when given, only this model's line is visible (a dropdown shows the chosen one).
    """
    blocks = []
    for key in keys:
        visible = shown is None or key == shown
        if key in MODEL_TEXT:
            blocks.append(gr.Markdown(t(f"sd_model_{key}_about"), elem_classes=["sd-model-about"], visible=visible))
        else:
            spec = registry.get(key)
            blocks.append(gr.Markdown(f"**{spec.title}**: {spec.description}", elem_classes=["sd-model-about"], visible=visible))
    return blocks


class UploadedImage(gr.Image):
    """An image input handed to the handler as the uploaded file's path, unopened.

    gr.Image opens every upload with Pillow before the handler runs, so a broken file gets
    Gradio's generic error; here `segdemo.images` does all the checking and says what is wrong.
    """

    def get_block_name(self) -> str:
        return "image"  # the ordinary image widget in the browser

    def preprocess(self, payload):
        if payload is None or payload.path is None:
            return super().preprocess(payload)
        return str(payload.path)


def _remove_old_outputs() -> None:
    """Removes the result files, and the download folders, older than OUTPUT_MAX_AGE_S (at most
    once every OUTPUT_PRUNE_INTERVAL_S)."""
    global _last_pruned
    OUTPUT_FOLDER.mkdir(parents=True, exist_ok=True)
    now = time.monotonic()
    if _last_pruned is not None and now - _last_pruned < OUTPUT_PRUNE_INTERVAL_S:
        return
    _last_pruned = now  # two requests at once may both scan: harmless, each removal tolerates the other
    cutoff = time.time() - OUTPUT_MAX_AGE_S
    for old in OUTPUT_FOLDER.iterdir():
        try:
            if old.stat().st_mtime >= cutoff:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        except FileNotFoundError:  # another request removed it first
            pass


def _output_file(data: bytes, suffix: str) -> str:
    _remove_old_outputs()
    descriptor, path = tempfile.mkstemp(suffix=suffix, dir=OUTPUT_FOLDER)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def png_file(pixels) -> str:
    """Writes a result image to its own PNG file and returns the path.

    Each request gets a fresh file: Gradio's cache names arrays by their content, and two
    students sending the same example at once would otherwise rewrite one file while the
    other is being downloaded. Files older than an hour are removed. zlib's fastest level: a
    12-megapixel picture takes 0.6 s instead of 2.7 s at Pillow's default, for a file 14 % larger,
    and a class of 60 waits on every one of them.
    """
    return _output_file(maps.png_bytes(pixels, FAST_PNG_LEVEL), ".png")


def jpeg_file(pixels) -> str:
    """Writes a picture to look at (a photo, an overlay on a photo) to its own JPEG file
    (`maps.jpeg_bytes`), as `png_file` does: 0.02 s against 0.10 s as a PNG at 1600×1067, and a
    tenth of the bytes on a class's Wi-Fi. Not for label maps or diagrams, whose flat colours JPEG blurs."""
    return _output_file(maps.jpeg_bytes(pixels), ".jpg")


def display_size(shape: tuple[int, ...], side: int) -> tuple[int, int]:
    """(height, width) of a picture of `shape` drawn with its longer side at most `side` (never enlarged)."""
    height, width = shape[:2]
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def display_copy(pixels: np.ndarray, side: int) -> np.ndarray:
    """`pixels` reduced (area averaging) to `display_size`; small ones as they are."""
    size = display_size(pixels.shape, side)
    if size == pixels.shape[:2]:
        return pixels
    return cv2.resize(np.ascontiguousarray(pixels), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def error(key: str, language: str, **values) -> gr.Error:
    """A gr.Error with one of the UI's own messages, in `language`."""
    return gr.Error(i18n.text(key, language, **values))


@contextlib.contextmanager
def user_errors(language: str) -> Iterator[None]:
    """Turns segdemo's ValueErrors into gr.Error, translated where a translation exists."""
    try:
        yield
    except ValueError as failure:
        raise gr.Error(messages.translate(str(failure), language)) from None


def examples(rows: list[list], inputs: list[gr.components.Component], label: I18nData, **options) -> gr.Examples:
    """gr.Examples without column headers: Gradio would write the inputs' labels there untranslated
    (the examples table does not translate them), and the thumbnails say enough."""
    block = gr.Examples(rows, inputs=inputs, label=label, **options)
    block.dataset.headers = []
    return block


def table(rows: list[list], headers: list[str]) -> dict:
    """A results table with headers in the request's language, as a plain value: API clients
    get the same {"headers", "data"} as before, not a component update."""
    return {"headers": headers, "data": rows}


def show_after(event, component: gr.components.Component) -> None:
    """Makes `component` visible once `event` succeeded (tables start hidden: their headers are
    written in the page's language only when the first result arrives)."""
    event.success(lambda: gr.update(visible=True), None, component, api_visibility="private", queue=False)
