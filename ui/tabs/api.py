"""Tab 8: one model on one image, which is also the `/predict` API endpoint, with an example."""

from __future__ import annotations

import gradio as gr

from segdemo import registry
from segdemo.predict import predict as run_prediction
from ui import common, i18n
from ui.common import UploadedImage
from ui.i18n import t

TITLE_KEY, INTRO_KEY = "sd_api_tab", "sd_api_intro"
STRINGS = i18n.register(
    {
        "sd_api_tab": ("8 · API", "8 · API"),
        "sd_api_intro": (
            (
                "**One model on one image**, which is also the app's API: the endpoint `/predict` takes an `image`, a `model_key` and a "
                "`threshold`, and returns the `overlay` (PNG) and a JSON `summary` (class fractions, seconds, size). From Python, with "
                "`pip install gradio_client`:"
            ),
            (
                "**Um modelo em uma imagem**, que também é a API do app: o endpoint `/predict` recebe uma imagem (`image`), a chave de "
                "um modelo (`model_key`) e um limiar (`threshold`), e devolve a sobreposição (`overlay`, PNG) e um resumo em JSON "
                "(`summary`: frações das classes, segundos, tamanho). "
                "Em Python, com `pip install gradio_client`:"
            ),
        ),
        "sd_api_example": (
            (
                "```python\nfrom gradio_client import Client, handle_file\n\n"
                'client = Client("https://…")  # this page\'s address\n'
                "overlay, summary = client.predict(\n"
                '    image=handle_file("image.png"), model_key="unet", threshold=0.5, api_name="/predict")\n'
                'print(summary["class_fractions"])\n'
                "# tab 1: the ground truth (truth=...) and the threshold may be left out\n"
                "figure, scores = client.predict(\n"
                '    image=handle_file("image.png"), model_keys=["fcn", "unet"], api_name="/compare")\n```\n'
                "The model keys: {keys}. The comparisons are `/compare` (tab 1), `/compare_large`, `/compare_membrane`; "
                "the photos `/photos`; the augmentation preview `/augmentation_preview`. `client.view_api()` lists every "
                "endpoint with the names of what it takes and returns (so does *Use via API* at the bottom of the page)."
            ),
            (
                "```python\nfrom gradio_client import Client, handle_file\n\n"
                'client = Client("https://…")  # o endereço desta página\n'
                "overlay, summary = client.predict(\n"
                '    image=handle_file("imagem.png"), model_key="unet", threshold=0.5, api_name="/predict")\n'
                'print(summary["class_fractions"])\n'
                "# aba 1: a máscara de referência (truth=...) e o limiar podem ser omitidos\n"
                "figure, scores = client.predict(\n"
                '    image=handle_file("imagem.png"), model_keys=["fcn", "unet"], api_name="/compare")\n```\n'
                "As chaves dos modelos: {keys}. As comparações são `/compare` (aba 1), `/compare_large`, `/compare_membrane`; "
                "as fotos, `/photos`; a prévia do aumento de dados, `/augmentation_preview`. `client.view_api()` lista cada "
                "endpoint com os nomes do que recebe e devolve (assim como *Usar via API* no rodapé da página)."
            ),
        ),
        "sd_api_threshold": ("Threshold", "Limiar"),
        "sd_api_button": ("Segment", "Segmentar"),
        "sd_api_overlay": ("Overlay", "Sobreposição"),
        "sd_api_summary": ("Summary", "Resumo"),
        "sd_api_no_image": ("Upload an image first.", "Envie uma imagem primeiro."),
    }
)


def run_single(image, model_key, threshold, request: gr.Request):
    """Handler of the API endpoint `/predict`: (image, model key, threshold) → overlay, summary."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_api_no_image", language)
    with common.user_errors(language):
        result = run_prediction(image, model_key, threshold)
    return common.png_file(result.overlay), result.summary()


def build() -> None:
    """The tab: the endpoint explained with an example, then its own small form."""
    keys = list(registry.REGISTRY)
    with gr.Tab(t(TITLE_KEY), id="api"):
        gr.Markdown(t(INTRO_KEY))
        listed = ", ".join(f"`{key}`" for key in keys)
        i18n.register(
            {
                "sd_api_example_keys": (
                    i18n.text("sd_api_example", "en", keys=listed),
                    i18n.text("sd_api_example", "pt", keys=listed),
                )
            }
        )
        gr.Markdown(t("sd_api_example_keys"))
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                image = UploadedImage(label=t("sd_image"), type="filepath", image_mode=None, sources=["upload", "clipboard"])
                model = gr.Dropdown(common.model_choices(keys), value="unet", label=t("sd_model"))
                # The chosen model's registry description: one line per model, only the chosen one shown
                # (each is translated in the browser like every other static text).
                descriptions = common.model_descriptions(keys, shown="unet")
                threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("sd_api_threshold"))
                button = gr.Button(t("sd_api_button"), variant="primary")
            with gr.Column(min_width=300):
                overlay = gr.Image(label=t("sd_api_overlay"), format="png", interactive=False)
                summary = gr.JSON(label=t("sd_api_summary"))
    model.change(
        lambda chosen: [gr.update(visible=key == chosen) for key in keys],
        model,
        descriptions,
        api_visibility="private",
        queue=False,
    )
    button.click(run_single, [image, model, threshold], [overlay, summary], api_name="predict", concurrency_id="inference")
