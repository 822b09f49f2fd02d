"""The "Skip connections" view: the decoder of a network with skips beside the same network
without them (`segdemo.inside.skips`), under the feature maps.
"""

from __future__ import annotations

import gradio as gr

from segdemo import inside
from ui import common, i18n
from ui.common import UploadedImage
from ui.i18n import t
from ui.tabs.inside.layers import example_images

STRINGS = i18n.register(
    {
        "sd_inside_skip_intro": (
            (
                "**Skip connections.** The same image through a network with skip connections and through the same network "
                "without them: the decoder's maps side by side (the 4 strongest channels of each), coarse to fine. With skips the "
                "fine maps get the encoder's boundary detail; without them the decoder can only enlarge what the bottleneck kept."
            ),
            (
                "**Conexões de atalho (skip).** A mesma imagem numa rede com conexões de atalho e na mesma rede sem elas: os mapas "
                "do decodificador lado a lado (os 4 canais mais fortes de cada), do mais grosso ao mais fino. Com os atalhos os "
                "mapas finos recebem os detalhes de borda do codificador; sem eles o decodificador só pode ampliar o que o gargalo guardou."
            ),
        ),
        "sd_inside_pair": ("Pair", "Par"),
        "sd_inside_pair_membrane": (
            "Membrane U-Net vs no skips (membrane slice)",
            "U-Net de membranas vs sem atalhos (fatia de membrana)",
        ),
        "sd_inside_pair_eliret": ("FCN + skips vs FCN (eliret image)", "FCN + atalhos vs FCN (imagem eliret)"),
        "sd_inside_skip_button": ("Compare the decoders", "Comparar os decodificadores"),
        "sd_inside_skip_picture": ("Decoder maps, with and without skips", "Mapas do decodificador, com e sem atalhos"),
        "sd_inside_skip_json": ("Fine detail per decoder map (JSON)", "Detalhe fino por mapa do decodificador (JSON)"),
    }
)


def run_skip_comparison(image, family, request: gr.Request):
    """API `/skip_comparison`: (image, "membrane" or "eliret") → decoder maps side by side, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_no_image", language)
    with common.user_errors(language):
        result = inside.skip_comparison(image, family)
    return common.png_file(result.picture), result.summary()


def build() -> None:
    """The skip comparison's inputs, picture and event."""
    gr.Markdown(t("sd_inside_skip_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            skip_image = UploadedImage(
                label=t("sd_image"), type="filepath", image_mode=None, sources=["upload", "clipboard"], height=220
            )
            pair = gr.Radio(
                [(t("sd_inside_pair_membrane"), "membrane"), (t("sd_inside_pair_eliret"), "eliret")],
                value="membrane",
                label=t("sd_inside_pair"),
            )
            skip_button = gr.Button(t("sd_inside_skip_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            skip_picture = gr.Image(label=t("sd_inside_skip_picture"), format="png", interactive=False)
            skip_summary = gr.JSON(label=t("sd_inside_skip_json"), visible=False)
    common.examples(example_images()[::-1], inputs=[skip_image], label=t("sd_inside_examples"), elem_id="inside-skip-examples")
    skip_button.click(
        run_skip_comparison,
        [skip_image, pair],
        [skip_picture, skip_summary],
        api_name="skip_comparison",
        concurrency_id="inference",
    )
