"""Tab 2: large images and data augmentation (plain FCN fails on `maior`, augmented models work)."""

from __future__ import annotations

import gradio as gr

from segdemo import registry, samples
from ui import comparison, i18n
from ui.i18n import t

TITLE_KEY, INTRO_KEY = "sd_large_tab", "sd_large_intro"
STRINGS = i18n.register(
    {
        "sd_large_tab": ("2 · Large images", "2 · Imagens grandes"),
        "sd_large_intro": (
            (
                "**Large images.** The networks were trained on 32×32 images with one centred object. Being fully convolutional, "
                "they run on an image of any size whose sides divide by 8 (the app pads other sizes and says so in the table). "
                "The plain FCN fails on the large *maior* images, whose objects are off-centre; the models trained with data "
                "augmentation (random shifts up to ±70 % and mirror images) find them, and the augmented U-Net keeps the corners sharp."
            ),
            (
                "**Imagens grandes.** As redes foram treinadas com imagens 32×32 com um objeto centralizado. Por serem totalmente "
                "convolucionais, rodam em imagens de qualquer tamanho cujos lados sejam divisíveis por 8 (o app completa os outros "
                "tamanhos e avisa na tabela). A FCN simples falha nas imagens grandes *maior*, com objetos fora do centro; os modelos "
                "treinados com aumento de dados (deslocamentos aleatórios de até ±70 % e espelhamentos) os encontram, e a U-Net com "
                "aumento de dados mantém os cantos nítidos."
            ),
        ),
        "sd_large_examples": (
            "Large images: maior1 and maior2 of the lecture, and two generated ones",
            "Imagens grandes: maior1 e maior2 da aula, e duas geradas",
        ),
    }
)

MODELS = ["fcn", "fcn_aug", "unet", "unet_aug"]


def build() -> None:
    """The tab: intro, then the comparison block on the large images (API name `compare_large`)."""
    with gr.Tab(t(TITLE_KEY), id="large_images"):
        gr.Markdown(t(INTRO_KEY))
        keys = [key for key in MODELS if key in registry.REGISTRY]
        comparison.build(
            comparison.ComparisonSettings(
                model_keys=keys,
                default_keys=keys,
                examples=samples.large_images(),
                examples_label="sd_large_examples",
                api_name="compare_large",
                session_model=True,
            )
        )
