"""Tab 1: FCN vs U-Net on the eliret test images (the lecture's figure 8)."""

from __future__ import annotations

import gradio as gr

from segdemo import registry, samples
from ui import comparison, i18n
from ui.i18n import t

TITLE_KEY, INTRO_KEY = "sd_fcn_unet_tab", "sd_fcn_unet_intro"
STRINGS = i18n.register(
    {
        "sd_fcn_unet_tab": ("1 · FCN vs U-Net", "1 · FCN × U-Net"),
        "sd_fcn_unet_intro": (
            (
                "**The lecture's figure 8.** The same eliret test images go through the FCN (program 2) and the U-Net (program 4). "
                "Look at the grey outputs: the FCN is unsure (many grey pixels) and rounds the ellipses and rectangles into similar "
                "blobs, while the U-Net's output is almost binary and keeps the corners. The binarized output marks a pixel as object "
                "when its grey level is at least the threshold (0.5 in the lecture): move the threshold and see how little the U-Net changes."
            ),
            (
                "**A figura 8 da aula.** As mesmas imagens de teste do eliret passam pela FCN (programa 2) e pela U-Net (programa 4). "
                "Observe as saídas em níveis de cinza: a FCN fica insegura (muitos pixels cinzentos) e arredonda elipses e retângulos "
                "em manchas parecidas, enquanto a saída da U-Net é quase binária e mantém os cantos. A saída binarizada marca um pixel "
                "como objeto quando seu nível de cinza é pelo menos o limiar (0,5 na aula): mova o limiar e veja como a U-Net quase não muda."
            ),
        ),
        "sd_fcn_unet_examples": (
            "eliret test images of figure 8 (076, 078, 176, 178) and of program 5 (077), with their ideal outputs",
            "Imagens de teste do eliret da figura 8 (076, 078, 176, 178) e do programa 5 (077), com as saídas ideais",
        ),
    }
)

MODELS = ["fcn", "unet", "fcn_skip", "unet_strided"]
DEFAULT_MODELS = ["fcn", "unet"]


def build() -> None:
    """The tab: intro, then the comparison block on the lecture's test images (API name `compare`)."""
    with gr.Tab(t(TITLE_KEY), id="fcn_unet"):
        gr.Markdown(t(INTRO_KEY))
        comparison.build(
            comparison.ComparisonSettings(
                model_keys=[key for key in MODELS if key in registry.REGISTRY],
                default_keys=DEFAULT_MODELS,
                examples=samples.lecture_test_images(),
                examples_label="sd_fcn_unet_examples",
                api_name="compare",
                session_model=True,
            )
        )
