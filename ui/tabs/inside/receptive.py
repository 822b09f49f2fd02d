"""The "Receptive field" view: what one cell of PSPNet's 1/8 feature map sees, with and without
the dilations (`segdemo.inside.receptive`), on the pyramid's photo.
"""

from __future__ import annotations

import gradio as gr

from segdemo import inside
from ui import common, i18n
from ui.i18n import t

STRINGS = i18n.register(
    {
        "sd_inside_rf_intro": (
            (
                "**Dilated convolution.** The box is what one cell of the 1/8 feature map (yellow) sees of the network's input: "
                "red with the dilations of stages 4 and 5 (2 and 4), blue for the same network without them. Computed from the "
                "kernel, stride and dilation of every layer; the box may reach past the photo (the padding)."
            ),
            (
                "**Convolução dilatada.** O retângulo é o que uma célula do mapa de 1/8 (amarela) vê da entrada da rede: vermelho "
                "com as dilatações dos estágios 4 e 5 (2 e 4), azul para a mesma rede sem elas. Calculado a partir do núcleo, do "
                "passo e da dilatação de cada camada; o retângulo pode passar da foto (o preenchimento)."
            ),
        ),
        "sd_inside_rf_row": ("Cell: height position (0 top, 1 bottom)", "Célula: posição vertical (0 topo, 1 base)"),
        "sd_inside_rf_column": ("Cell: width position (0 left, 1 right)", "Célula: posição horizontal (0 esquerda, 1 direita)"),
        "sd_inside_rf_button": ("Draw the receptive field", "Desenhar o campo receptivo"),
        "sd_inside_rf_picture": ("Receptive field on the photo", "Campo receptivo na foto"),
        "sd_inside_rf_json": ("Receptive field (JSON)", "Campo receptivo (JSON)"),
    }
)


def run_receptive_field(image, model_key, pipeline, row, column, request: gr.Request):
    """API `/receptive_field`: (photo, PSPNet key, pipeline, row, column in [0, 1]) → picture, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_inside_no_photo", language)
    with common.user_errors(language):
        result = inside.receptive_field(image, model_key, pipeline, (float(row), float(column)))
    return common.png_file(result.picture), result.summary()


def build(photo, model, pipeline) -> None:
    """The receptive field's sliders, picture and event, on the pyramid's `photo`, `model` and `pipeline`."""
    gr.Markdown(t("sd_inside_rf_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            row = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("sd_inside_rf_row"))
            column = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("sd_inside_rf_column"))
            rf_button = gr.Button(t("sd_inside_rf_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            rf_picture = gr.Image(label=t("sd_inside_rf_picture"), format="png", interactive=False)
            with gr.Accordion(t("sd_inside_rf_json"), open=False):
                rf_summary = gr.JSON(label=t("sd_inside_rf_json"), show_label=False)
    rf_button.click(
        run_receptive_field,
        [photo, model, pipeline, row, column],
        [rf_picture, rf_summary],
        api_name="receptive_field",
        concurrency_id="inference",
    )
