"""Tab 5: the augmentation preview (the lecture's figure 13), one control per distortion."""

from __future__ import annotations

import dataclasses

import gradio as gr

from segdemo import samples
from segdemo.distortions import LECTURE_DISTORTIONS, Distortions
from ui import common, i18n
from ui.i18n import t

TITLE_KEY, INTRO_KEY = "sd_aug_tab", "sd_aug_intro"
STRINGS = i18n.register(
    {
        "sd_aug_tab": ("5 · Augmentation", "5 · Aumento de dados"),
        "sd_aug_intro": (
            (
                "**The lecture's figure 13.** Data augmentation gives each training image and its mask the *same* random "
                "transform, so the mask still marks the object. Each control sets the range of one distortion (0 turns it off): "
                "set the others to 0 to see one on its own, as the lecture's exercise asks, or combine them. The controls start at "
                "what the lecture used: shifts of ±70 % and flips for eliret; rotation, shift, shear and zoom without flips "
                "(`horizontal_flip=False`) for the membranes, whose slices are shown after the reduction to 128×128. "
                "Below them, what the U-Net paper adds for its few labelled slices: elastic deformations (image and mask bent "
                "together) and brightness, contrast and gamma, which change the image only: the mask must not move. "
                "The membranes' last column is the paper's loss weights (its equation 2): brightest on the thin membrane "
                "between two nearly touching cells, where a one-pixel gap would merge them; they move with the mask "
                "(`python -m train membrane_unet_256 --border-weight 10`)."
            ),
            (
                "**A figura 13 da aula.** O aumento de dados aplica a cada imagem de treino e à sua máscara a *mesma* transformação "
                "aleatória, para que a máscara continue marcando o objeto. Cada controle define a faixa de uma distorção (0 a "
                "desliga): zere as outras para ver uma sozinha, como pede o exercício da aula, ou combine-as. Os controles começam "
                "com o que a aula usou: deslocamentos de ±70 % e espelhamentos no eliret; rotação, deslocamento, cisalhamento e "
                "zoom sem espelhamento (`horizontal_flip=False`) nas membranas, cujas fatias aparecem já reduzidas a 128×128. "
                "Abaixo deles, o que o artigo da U-Net acrescenta para suas poucas fatias rotuladas: deformações elásticas "
                "(imagem e máscara entortadas juntas) e brilho, contraste e gama, que mudam só a imagem: a máscara não pode mudar. "
                "A última coluna das membranas são os pesos da perda do artigo (sua equação 2): mais claros na membrana fina "
                "entre duas células quase encostadas, onde uma falha de um pixel as juntaria; eles se movem com a máscara "
                "(`python -m train membrane_unet_256 --border-weight 10`)."
            ),
        ),
        "sd_aug_dataset": ("Dataset", "Conjunto de dados"),
        "sd_aug_eliret": ("eliret (32×32 ellipses and rectangles)", "eliret (elipses e retângulos 32×32)"),
        "sd_aug_membrane": ("membrane (ISBI-2012 EM slices)", "membranas (fatias de microscopia ISBI-2012)"),
        "sd_aug_rotation": ("Rotation: ± degrees (rotation_range)", "Rotação: ± graus (rotation_range)"),
        "sd_aug_shift": (
            "Shift: ± fraction of the size (width/height_shift_range)",
            "Deslocamento: ± fração do tamanho (width/height_shift_range)",
        ),
        "sd_aug_shear": ("Shear: ± degrees (shear_range)", "Cisalhamento: ± graus (shear_range)"),
        "sd_aug_zoom": ("Zoom: ± fraction (zoom_range)", "Zoom: ± fração (zoom_range)"),
        "sd_aug_flip": ("Horizontal flip (horizontal_flip)", "Espelhamento horizontal (horizontal_flip)"),
        "sd_aug_elastic": (
            "Elastic deformation: pixels of displacement (the U-Net paper: 10 on a 3×3 grid)",
            "Deformação elástica: pixels de deslocamento (artigo da U-Net: 10 numa grade 3×3)",
        ),
        "sd_aug_brightness": ("Brightness: ± added (image only)", "Brilho: ± somado (só a imagem)"),
        "sd_aug_contrast": ("Contrast: ± fraction (image only)", "Contraste: ± fração (só a imagem)"),
        "sd_aug_gamma": ("Gamma: ± fraction of the exponent (image only)", "Gama: ± fração do expoente (só a imagem)"),
        "sd_aug_seed": ("Seed", "Semente"),
        "sd_aug_button": ("New sample", "Nova amostra"),
        "sd_aug_lecture": ("The lecture's settings", "Valores da aula"),
        "sd_aug_none": ("All off", "Desligar todas"),
        "sd_aug_preview": ("Original and augmented pairs", "Pares originais e aumentados"),
        "sd_aug_col_image": ("original image", "imagem original"),
        "sd_aug_col_mask": ("original mask", "máscara original"),
        "sd_aug_col_aug_image": ("augmented image", "imagem aumentada"),
        "sd_aug_col_aug_mask": ("augmented mask", "máscara aumentada"),
        "sd_aug_col_weights": ("loss weights", "pesos da perda"),
    }
)

COLUMN_KEYS = ("sd_aug_col_image", "sd_aug_col_mask", "sd_aug_col_aug_image", "sd_aug_col_aug_mask", "sd_aug_col_weights")
CELL = 140  # pixels per picture: room for the longest column title ("máscara aumentada", 145 px with the gap)
# Blank figure pixels above the titles: the image's two buttons (download, full screen) sit over the
# figure's top right corner, where the loss weights' title is. Their bar is 23 CSS px high whatever the
# figure's scale, and a 390-px phone draws the 748-px figure 324 px wide (0.43): the titles start at
# (TOOLBAR + 4) × 0.43 = 29 px there, below the bar (measured in Chromium at 390 and 1280 px; at 40 the
# bar covered the title's upper half on the phone).
TOOLBAR = 64
NO_DISTORTION = Distortions()


# One control per distortion; the eight symmetries are a training option (python -m train membrane*
# --symmetries), not a control of the preview.
CONTROL_FIELDS = tuple(field.name for field in dataclasses.fields(Distortions) if field.name != "symmetries")


def lecture_settings(dataset: str) -> tuple:
    """The controls' values for `dataset` as the lecture set them (rotation, shift, shear, zoom,
    flip; elastic, brightness, contrast and gamma, which the lecture did not use, at 0)."""
    chosen = LECTURE_DISTORTIONS.get(dataset, NO_DISTORTION)
    return tuple(getattr(chosen, name) for name in CONTROL_FIELDS)


def new_augmentation_sample(
    dataset,
    seed,
    rotation=None,
    shift=None,
    shear=None,
    zoom=None,
    horizontal_flip=None,
    elastic=None,
    brightness=None,
    contrast=None,
    gamma=None,
    request: gr.Request = None,
):
    """Handler of the preview (API `/augmentation_preview`): a fresh random transform of a few pairs.

    Distortions left out (None, e.g. an API call with only dataset and seed) take the lecture's
    value for the dataset. Returns the figure and the next seed.
    """
    language = i18n.language(request)
    with common.user_errors(language):
        if dataset not in LECTURE_DISTORTIONS:
            raise ValueError(f"Unknown dataset {dataset!r} for the augmentation preview; choose eliret or membrane.")
        defaults = lecture_settings(dataset)
        given = (rotation, shift, shear, zoom, horizontal_flip, elastic, brightness, contrast, gamma)
        values = {
            name: default if value is None else (bool(value) if name == "horizontal_flip" else float(value))
            for name, value, default in zip(CONTROL_FIELDS, given, defaults)
        }
        distortions = Distortions(**values)
        figure = samples.augmentation_preview(
            dataset,
            int(seed),
            distortions=distortions,
            column_titles=[i18n.text(key, language) for key in COLUMN_KEYS],
            cell_size=CELL,
            top=TOOLBAR,
        )
    return common.png_file(figure), int(seed) + 1


def build() -> None:
    """The tab: dataset, one control per distortion, seed; the figure of original and augmented pairs."""
    with gr.Tab(t(TITLE_KEY), id="augmentation"):
        gr.Markdown(t(INTRO_KEY))
        rotation_0, shift_0, shear_0, zoom_0, flip_0, *_ = lecture_settings("eliret")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                dataset = gr.Radio(
                    [(t("sd_aug_eliret"), "eliret"), (t("sd_aug_membrane"), "membrane")],
                    value="eliret",
                    label=t("sd_aug_dataset"),
                )
                rotation = gr.Slider(0, 90, value=rotation_0, step=1, label=t("sd_aug_rotation"))
                shift = gr.Slider(0.0, 0.9, value=shift_0, step=0.05, label=t("sd_aug_shift"))
                shear = gr.Slider(0, 45, value=shear_0, step=1, label=t("sd_aug_shear"))
                zoom = gr.Slider(0.0, 0.5, value=zoom_0, step=0.05, label=t("sd_aug_zoom"))
                flip = gr.Checkbox(value=flip_0, label=t("sd_aug_flip"))
                elastic = gr.Slider(0, 30, value=0, step=1, label=t("sd_aug_elastic"))
                brightness = gr.Slider(0.0, 0.5, value=0.0, step=0.02, label=t("sd_aug_brightness"))
                contrast = gr.Slider(0.0, 0.9, value=0.0, step=0.05, label=t("sd_aug_contrast"))
                gamma = gr.Slider(0.0, 0.9, value=0.0, step=0.05, label=t("sd_aug_gamma"))
                with gr.Row():
                    lecture = gr.Button(t("sd_aug_lecture"), size="sm")
                    none = gr.Button(t("sd_aug_none"), size="sm")
                seed = gr.Number(value=1, precision=0, label=t("sd_aug_seed"))
                button = gr.Button(t("sd_aug_button"), variant="primary")
            with gr.Column(scale=2, min_width=300):
                # No floating label: it would cover the figure's first column title.
                preview = gr.Image(
                    label=t("sd_aug_preview"),
                    show_label=False,
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                    elem_id="augmentation-preview",
                )
    controls = [rotation, shift, shear, zoom, flip, elastic, brightness, contrast, gamma]
    # Choosing a dataset or the lecture's button sets the controls to the lecture's values for it.
    dataset.change(lecture_settings, dataset, controls, api_visibility="private", queue=False)
    lecture.click(lecture_settings, dataset, controls, api_visibility="private", queue=False)
    none.click(lambda: lecture_settings("none"), None, controls, api_visibility="private", queue=False)
    button.click(
        new_augmentation_sample,
        [dataset, seed, *controls],
        [preview, seed],
        api_name="augmentation_preview",
        concurrency_id="inference",
    )
