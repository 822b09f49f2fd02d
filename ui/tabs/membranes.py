"""Tab 3: membranes (the lecture's figures 12–14): U-Net with and without skip connections."""

from __future__ import annotations

import gradio as gr

from segdemo import registry, samples
from ui import comparison, i18n
from ui.i18n import t

TITLE_KEY, INTRO_KEY = "sd_membranes_tab", "sd_membranes_intro"
STRINGS = i18n.register(
    {
        "sd_membranes_tab": ("3 · Membranes", "3 · Membranas"),
        "sd_membranes_intro": (
            (
                "**The lecture's figures 12–14.** Electron-microscopy slices of the ISBI-2012 challenge, segmented by the U-Net of "
                "program 7 (BatchNormalization, 128×128 input) and by the same network without skip connections: without skips the "
                "output is blurred and the thin membranes break up, because the skips carry the fine detail from the encoder to the "
                "decoder. The 256×256 model sees membranes 2–4 pixels wide instead of 1–2. The grey output is the network's `qp` "
                "(white = cell interior), and the threshold works as the lecture's `qp >= 0.5`: a pixel is cell interior (white) "
                "when qp ≥ threshold, membrane (black) otherwise."
            ),
            (
                "**As figuras 12–14 da aula.** Fatias de microscopia eletrônica do desafio ISBI-2012, segmentadas pela U-Net do "
                "programa 7 (BatchNormalization, entrada 128×128) e pela mesma rede sem conexões de atalho (skip): sem os atalhos a "
                "saída fica borrada e as membranas finas se rompem, porque os atalhos levam os detalhes finos do codificador ao "
                "decodificador. O modelo 256×256 vê membranas com 2–4 pixels de largura em vez de 1–2. A saída em níveis de cinza é o "
                "`qp` da rede (branco = interior da célula), e o limiar funciona como o `qp >= 0.5` da aula: o pixel é interior da "
                "célula (branco) quando qp ≥ limiar, e membrana (preto) caso contrário."
            ),
        ),
        "sd_membranes_threshold": (
            "Threshold: white (cell interior) where qp ≥ threshold, as the lecture's qp >= 0.5",
            "Limiar: branco (interior da célula) onde qp ≥ limiar, como o qp >= 0.5 da aula",
        ),
        "sd_membranes_tta": (
            "Test-time augmentation: also run each model on the 8 flips and 90° rotations of the slice and average "
            "(a second row per model, with its scores and time)",
            "Aumento de dados no teste (TTA): rodar cada modelo também nos 8 espelhamentos e rotações de 90° da fatia e "
            "tirar a média (uma segunda linha por modelo, com seus resultados e tempo)",
        ),
        "sd_membranes_examples": (
            "ISBI-2012 slices: validation slices 20, 22, 24 with their labels, and unlabelled test slices",
            "Fatias do ISBI-2012: fatias de validação 20, 22, 24 com seus rótulos, e fatias de teste sem rótulo",
        ),
    }
)


def lecture_threshold(threshold: float) -> float:
    """The slider's threshold on qp (interior where qp ≥ t, the lecture's direction) as the
    library's threshold on the membrane score 1 − qp (membrane where 1 − qp ≥ 1 − t)."""
    return min(1.0, max(0.0, 1.0 - float(threshold)))


def build() -> None:
    """The tab: intro, then the comparison block on EM slices (API name `compare_membrane`).

    Every membrane model of the registry is offered and ticked; one whose weights are not on the
    server is skipped, and the table says why.
    """
    with gr.Tab(t(TITLE_KEY), id="membranes"):
        gr.Markdown(t(INTRO_KEY))
        keys = registry.keys("membrane")
        comparison.build(
            comparison.ComparisonSettings(
                model_keys=keys,
                default_keys=keys,
                examples=samples.membrane_labelled() + samples.membrane_unlabelled(),
                examples_label="sd_membranes_examples",
                api_name="compare_membrane",
                threshold_label="sd_membranes_threshold",
                threshold_to_library=lecture_threshold,
                tta_label="sd_membranes_tta",
            )
        )
