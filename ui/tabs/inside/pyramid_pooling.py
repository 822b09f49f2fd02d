"""The "Pyramid pooling" view: PSPNet's four pooled branches and the class map with branches
switched off (`segdemo.inside.pyramid_pooling`). Its photo, model and pipeline also feed the
receptive field below it (`ui.tabs.inside.receptive`).
"""

from __future__ import annotations

import gradio as gr

from segdemo import inside, registry, samples
from ui import common, i18n
from ui.common import UploadedImage
from ui.i18n import t

STRINGS = i18n.register(
    {
        "sd_inside_pyr_tab": ("Pyramid pooling", "Pirâmide de pooling"),
        "sd_inside_pyr_intro": (
            (
                "**PSPNet's pyramid pooling module.** The 1/8 feature map is average-pooled into 1×1, 2×2, 3×3 and 6×6 bins; each "
                "branch is convolved, enlarged back and concatenated with the features. Each branch is shown as the first principal "
                "component of its 512 channels, enlarged to the photo (the 1×1 branch is one value for the whole photo). Switch "
                "branches off (their channels set to zero in the concatenation, the rest of the same network run on it) and see "
                "which cells of the network's 1/8 class map change class: the coarse bins bring the context."
            ),
            (
                "**O módulo de pirâmide de pooling da PSPNet.** O mapa de características de 1/8 é reduzido por média a 1×1, 2×2, "
                "3×3 e 6×6 células; cada ramo passa por uma convolução, é ampliado de volta e concatenado às características. Cada "
                "ramo aparece como a primeira componente principal dos seus 512 canais, ampliada para a foto (o ramo 1×1 é um só "
                "valor para a foto inteira). Desligue ramos (seus canais zerados na concatenação, o resto da mesma rede rodando "
                "sobre ela) e veja quais células do mapa de classes de 1/8 da rede mudam de classe: as células grossas trazem o contexto."
            ),
        ),
        "sd_inside_photo": ("Photo", "Foto"),
        "sd_inside_pipeline": ("Pipeline", "Pipeline"),
        "sd_inside_off": ("Switch off these branches", "Desligar estes ramos"),
        "sd_inside_pyr_button": ("Show the pyramid", "Mostrar a pirâmide"),
        "sd_inside_branches": ("The photo and the four pooled branches", "A foto e os quatro ramos do pooling"),
        "sd_inside_maps": (
            "Class maps at 1/8: all branches · the chosen ones off · no pyramid",
            "Mapas de classes em 1/8: todos os ramos · os escolhidos desligados · sem a pirâmide",
        ),
        "sd_inside_changes": (
            "Cells of the 1/8 class map that change class",
            "Células do mapa de classes de 1/8 que mudam de classe",
        ),
        "sd_inside_col_off": ("switched off", "desligado"),
        "sd_inside_col_pixels": ("cells that change class", "células que mudam de classe"),
        "sd_inside_col_share": ("% of the cells", "% das células"),
        "sd_inside_all_four": ("all four (no pyramid)", "os quatro (sem pirâmide)"),
        "sd_inside_pyr_json": ("Pyramid (JSON)", "Pirâmide (JSON)"),
        "sd_inside_pyr_examples": ("Example photos", "Fotos de exemplo"),
        "sd_inside_no_photo": ("Upload a photo or choose an example first.", "Envie uma foto ou escolha um exemplo primeiro."),
    }
)

OFF_CHOICES = [("1×1", 1), ("2×2", 2), ("3×3", 3), ("6×6", 6)]


def run_pyramid(image, model_key, pipeline, off, request: gr.Request):
    """API `/pyramid`: (photo, PSPNet key, pipeline, branches off [1, 2, 3, 6]) → branches PNG,
    class maps PNG, table of changed pixels, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_inside_no_photo", language)
    with common.user_errors(language):
        result = inside.pyramid(image, model_key, pipeline, off or ())
    rows = []
    for change in result.changes:
        removed = change["off"]
        label = (
            i18n.text("sd_inside_all_four", language) if len(removed) == 4 else ", ".join(f"{bins}×{bins}" for bins in removed)
        )
        rows.append([label, change["cells"], round(change["fraction"] * 100, 2)])
    headers = [i18n.text(key, language) for key in ("sd_inside_col_off", "sd_inside_col_pixels", "sd_inside_col_share")]
    return (
        common.png_file(result.branches_picture),
        common.png_file(result.maps_picture),
        common.table(rows, headers),
        result.summary(),
    )


def build():
    """The pyramid's inputs, pictures and event; returns the photo, model and pipeline, which the
    receptive field below reuses."""
    pspnet_keys = registry.keys("pspnet")
    gr.Markdown(t("sd_inside_pyr_intro"))
    with gr.Row(equal_height=False, elem_id="inside-pyramid-row"):
        with gr.Column(scale=1, min_width=300):
            photo = UploadedImage(
                label=t("sd_inside_photo"),
                type="filepath",
                image_mode=None,
                sources=["upload", "webcam", "clipboard"],
                height=240,
                elem_id="inside-pyramid-photo",
            )
            model = gr.Dropdown(common.model_choices(pspnet_keys), value=pspnet_keys[0], label=t("sd_model"))
            pipelines = list(registry.get(pspnet_keys[0]).pipeline_names)
            pipeline = gr.Radio(pipelines, value=pipelines[0], label=t("sd_inside_pipeline"))
            off = gr.CheckboxGroup(OFF_CHOICES, value=[1], label=t("sd_inside_off"))
            button = gr.Button(t("sd_inside_pyr_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            branches = gr.Image(label=t("sd_inside_branches"), format="png", interactive=False)
            maps = gr.Image(label=t("sd_inside_maps"), format="png", interactive=False)
            table = gr.Dataframe(headers=["off", "pixels", "%"], label=t("sd_inside_changes"), interactive=False, visible=False)
            with gr.Accordion(t("sd_inside_pyr_json"), open=False):
                summary = gr.JSON(label=t("sd_inside_pyr_json"), show_label=False)
    photos = samples.photos()
    if photos:
        common.examples(
            [[str(item.image)] for item in photos[:6]],
            inputs=[photo],
            label=t("sd_inside_pyr_examples"),
            elem_id="inside-pyramid-examples",
        )
    event = button.click(
        run_pyramid,
        [photo, model, pipeline, off],
        [branches, maps, table, summary],
        api_name="pyramid",
        concurrency_id="inference",
    )
    common.show_after(event, table)
    return photo, model, pipeline
