"""The "Feature maps" view: a model's layers in a dropdown (name, output size, part of the
network) and the chosen layer's strongest channels for one image (`segdemo.inside.layers`).
"""

from __future__ import annotations

import gradio as gr

from segdemo import inside, registry, samples
from ui import common, i18n
from ui.common import UploadedImage
from ui.i18n import PORTUGUESE, t

ROLE_NAMES = {
    "input": ("input", "entrada"),
    "encoder": ("encoder", "codificador"),
    "bottleneck": ("bottleneck", "gargalo"),
    "decoder": ("decoder", "decodificador"),
    "skip": ("skip connection", "conexão de atalho"),
    "pyramid": ("pyramid pooling", "pirâmide de pooling"),
    "border": ("mirrored border", "borda espelhada"),
}


STRINGS = i18n.register(
    {
        "sd_inside_fm_tab": ("Feature maps", "Mapas de características"),
        "sd_inside_fm_intro": (
            (
                "Pick a model and a layer (listed in the network's order, with its output size and part: encoder, bottleneck, "
                "decoder, skip connection). The grid shows the layer's strongest 16 channels (by mean activation; all when fewer), "
                "each scaled to its own range, with the layer's size written on top: the resolution falls in the encoder and rises "
                "in the decoder."
            ),
            (
                "Escolha um modelo e uma camada (na ordem da rede, com o tamanho da saída e a parte: codificador, gargalo, "
                "decodificador, conexão de atalho). A grade mostra os 16 canais mais fortes da camada (pela ativação média; todos "
                "quando há menos), cada um na sua própria escala, com o tamanho da camada escrito em cima: a resolução cai no "
                "codificador e sobe no decodificador."
            ),
        ),
        "sd_inside_layer": ("Layer (name · output size · part)", "Camada (nome · tamanho da saída · parte)"),
        "sd_inside_fm_button": ("Show the feature maps", "Mostrar os mapas de características"),
        "sd_inside_fm_picture": ("Channels of the layer", "Canais da camada"),
        "sd_inside_fm_json": ("Layer and channels (JSON)", "Camada e canais (JSON)"),
        "sd_inside_examples": (
            "Examples: eliret test images and membrane slices",
            "Exemplos: imagens de teste eliret e fatias de membrana",
        ),
    }
)

FEATURE_KEYS = registry.keys("eliret") + registry.keys("membrane")
DEFAULT_FEATURE_MODEL = "unet"


def _role(role: str, language: str) -> str:
    english, portuguese = ROLE_NAMES.get(role, (role, role))
    return portuguese if language == PORTUGUESE else english


def _default_layer(layers: list[inside.LayerInfo]) -> str:
    """A first layer worth showing: the last encoder layer at half the encoder's first resolution
    (the input's, or the input's with its mirrored border)."""
    encoder = [info for info in layers if info.role == "encoder"]
    if not encoder:
        return layers[1].name
    half = [info for info in encoder if info.shape[0] * 2 == encoder[0].shape[0] and info.kind != "MaxPooling2D"]
    return (half[-1] if half else encoder[0]).name


def layer_choices(model_key, request: gr.Request):
    """The layer dropdown of a model (its name, output size at the model's usual input, and part)."""
    language = i18n.language(request)
    with common.user_errors(language):
        layers = inside.layers_of(model_key)
    choices = [
        (f"{info.name} · {info.spatial}×{info.shape[2]} · {_role(info.role, language)}", info.name)
        for info in layers
        if info.role != "input"
    ]
    return gr.update(choices=choices, value=_default_layer(layers))


def run_feature_maps(image, model_key=DEFAULT_FEATURE_MODEL, layer=None, request: gr.Request = None):
    """API `/feature_maps`: (image, model key, layer name or empty for a default) → channel grid PNG, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_no_image", language)
    with common.user_errors(language):
        if not layer:
            layer = _default_layer(inside.layers_of(model_key))
        result = inside.feature_maps(image, model_key, layer)
    return common.png_file(result.picture), result.summary()


def example_images() -> list[list[str]]:
    eliret = [[str(example.image)] for example in samples.lecture_test_images()[:3]]
    membrane = [[str(example.image)] for example in samples.membrane_labelled()[:2]]
    return eliret + membrane


def build():
    """The feature-map view's inputs, picture and events; returns the model and layer dropdowns (the
    tab fills the layer list when it is opened)."""
    gr.Markdown(t("sd_inside_fm_intro"))
    with gr.Row(equal_height=False, elem_id="inside-fm-row"):
        with gr.Column(scale=1, min_width=300):
            image = UploadedImage(
                label=t("sd_image"),
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard"],
                height=220,
                elem_id="inside-fm-image",
            )
            model = gr.Dropdown(common.model_choices(FEATURE_KEYS), value=DEFAULT_FEATURE_MODEL, label=t("sd_model"))
            layer = gr.Dropdown([], value=None, label=t("sd_inside_layer"), allow_custom_value=True)
            button = gr.Button(t("sd_inside_fm_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            picture = gr.Image(label=t("sd_inside_fm_picture"), format="png", interactive=False)
            with gr.Accordion(t("sd_inside_fm_json"), open=False):
                summary = gr.JSON(label=t("sd_inside_fm_json"), show_label=False)
    common.examples(example_images(), inputs=[image], label=t("sd_inside_examples"), elem_id="inside-fm-examples")
    model.change(layer_choices, model, layer, api_visibility="private", concurrency_id="inference")
    button.click(run_feature_maps, [image, model, layer], [picture, summary], api_name="feature_maps", concurrency_id="inference")
    return model, layer
