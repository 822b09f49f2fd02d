"""The "Model cards" view: a model's size, cost, measured time, training figures and diagram
(`segdemo.inside.cards`).
"""

from __future__ import annotations

import gradio as gr
import numpy as np
from PIL import Image

from segdemo import inside, registry, settings
from segdemo.datasets import membrane
from ui import common, i18n
from ui.i18n import PORTUGUESE, t
from ui.tabs.inside.layers import ROLE_NAMES

# The diagram's words in Portuguese: the legend's parts, the input box, PSPNet's residual units.
DIAGRAM_WORDS_PT = {
    **{role: portuguese for role, (_, portuguese) in ROLE_NAMES.items()},
    "residual unit": "unidade residual",
    "residual units": "unidades residuais",
}

STRINGS = i18n.register(
    {
        "sd_inside_cards_tab": ("Model cards", "Fichas dos modelos"),
        "sd_inside_cards_intro": (
            (
                "Parameters, multiply-adds at the model's input size (counted from the layers' configurations: convolutions and "
                "transposed convolutions), the time of one forward pass measured on this server's CPU, the training figures and "
                "the architecture."
            ),
            (
                "Parâmetros, multiplicações-somas no tamanho de entrada do modelo (contadas a partir das configurações das camadas: "
                "convoluções e convoluções transpostas), o tempo de uma passagem medido na CPU deste servidor, os números do "
                "treinamento e a arquitetura."
            ),
        ),
        "sd_inside_card_button": ("Show the model card", "Mostrar a ficha"),
        "sd_inside_card": ("Model card", "Ficha do modelo"),
        "sd_inside_diagram": (
            # Short enough for one line on a phone (the picture's own legend says what the colours are).
            "Architecture: one box per layer",
            "Arquitetura: uma caixa por camada",
        ),
        "sd_inside_loss": ("Training and validation loss", "Perda de treinamento e de validação"),
        "sd_inside_summary": ("Keras summary (text)", "Resumo do Keras (texto)"),
        "sd_inside_card_json": ("Model card (JSON)", "Ficha do modelo (JSON)"),
        "sd_inside_card_text": (
            (
                "### {title}\n{description}\n\n| | |\n|---|---|\n| input | {input} |\n| parameters | {parameters} |\n"
                "| multiply-adds | {macs} |\n| one forward pass on this CPU | {seconds} |\n| layers | {layers} |\n"
                "| in the lecture | figures {figures} |\n{training}"
            ),
            (
                "### {title}\n{description}\n\n| | |\n|---|---|\n| entrada | {input} |\n| parâmetros | {parameters} |\n"
                "| multiplicações-somas | {macs} |\n| uma passagem nesta CPU | {seconds} |\n| camadas | {layers} |\n"
                "| na aula | figuras {figures} |\n{training}"
            ),
        ),
        "sd_inside_not_measured": ("not measured: {why}", "não medido: {why}"),
        "sd_inside_training": ("training", "treinamento"),
        # The card's rows of weights/KEY.metrics.json: the file's field names, said in words.
        "sd_inside_field_epochs": ("epochs", "épocas"),
        "sd_inside_field_batch_size": ("batch size", "tamanho do lote"),
        "sd_inside_field_learning_rate": ("learning rate (last)", "taxa de aprendizado (última)"),
        "sd_inside_field_initialised_from": ("started from the weights of", "começou dos pesos de"),
        "sd_inside_field_labels": ("labels", "rótulos"),
        "sd_inside_field_train_seconds": ("training time (s)", "tempo de treino (s)"),
        "sd_inside_field_valid": ("validation", "validação"),
        "sd_inside_field_test": ("test", "teste"),
        "sd_inside_field_large": ("large images", "imagens grandes"),
        "sd_inside_field_full_resolution": ("at full resolution", "na resolução original"),
        "sd_inside_field_full_resolution_tta": (
            "at full resolution, mean of the 8 flips/rotations",
            "na resolução original, média dos 8 espelhamentos/rotações",
        ),
        "sd_inside_unet_paper": (
            "the U-Net paper, ISBI-2012 challenge test set (other, unpublished slices: a reference, not a comparison)",
            "o artigo da U-Net, conjunto de teste do desafio ISBI-2012 (outras fatias, não publicadas: referência, não comparação)",
        ),
        "sd_inside_labels_soft": ("coverage fractions of the reduced masks", "frações de cobertura das máscaras reduzidas"),
        "sd_inside_labels_hard": ("reduced masks binarized at 0.5", "máscaras reduzidas binarizadas em 0,5"),
    }
)

# Training figures worth a row of the card (the rest stays in the JSON file).
TRAINING_FIELDS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "initialised_from",
    "labels",
    "train_seconds",
    "valid",
    "test",
    "large",
)


def _figures(value: dict) -> str:
    return ", ".join(
        f"{key} {inner:.4g}" if isinstance(inner, float) else f"{key} {inner}"
        for key, inner in value.items()
        if not isinstance(inner, dict)
    )


def _field(name: str, language: str) -> str:
    """A metrics file's field name in words, or the name itself when it has none."""
    key = f"sd_inside_field_{name}"
    return i18n.text(key, language) if key in i18n.strings() else name


# A membrane metrics file's "labels" (segdemo.datasets.membrane.LABEL_KINDS) → its UI string.
LABEL_KINDS = {membrane.LABEL_KINDS[True]: "sd_inside_labels_soft", membrane.LABEL_KINDS[False]: "sd_inside_labels_hard"}


def _value(value, language: str) -> str:
    return i18n.text(LABEL_KINDS[value], language) if value in LABEL_KINDS else str(value)


# The U-Net paper's adapted Rand error on the ISBI-2012 challenge's test slices (table 1).
UNET_PAPER_RAND_ERROR = 0.0382


def _format_training(training: dict, language: str) -> str:
    rows = []
    for name in TRAINING_FIELDS:
        if training.get(name) is None:
            continue
        value = training[name]
        label = f"{i18n.text('sd_inside_training', language)}: {_field(name, language)}"
        rows.append(f"| {label} | {_figures(value) if isinstance(value, dict) else _value(value, language)} |")
        # One level deeper, as its own row: the membrane models' figures at 512×512, say.
        if isinstance(value, dict):
            rows += [
                f"| {label}, {_field(key, language)} | {_figures(inner)} |"
                for key, inner in value.items()
                if isinstance(inner, dict)
            ]
    if any(isinstance(inner, dict) and "rand_error" in inner for inner in (training.get("valid") or {}).values()):
        rows.append(f"| {i18n.text('sd_inside_unet_paper', language)} | rand_error {UNET_PAPER_RAND_ERROR} |")
    return "\n".join(rows)


def run_model_card(model_key, request: gr.Request):
    """API `/model_card`: model key → card (Markdown), diagram PNG, loss plot or None, Keras summary, JSON."""
    language = i18n.language(request)
    with common.user_errors(language):
        card = inside.model_card(model_key)
    if card.seconds is None:
        seconds = i18n.text("sd_inside_not_measured", language, why=card.weights_missing.split(":")[0])
    else:
        seconds = f"{card.seconds * 1000:.1f} ms"
    text = i18n.text(
        "sd_inside_card_text",
        language,
        title=common.model_title(model_key, language),
        description=common.MODEL_TEXT[model_key][1][1 if language == PORTUGUESE else 0]
        if model_key in common.MODEL_TEXT
        else card.description,
        input="×".join(str(side) for side in card.input_shape),
        parameters=f"{card.parameters:,}".replace(",", " "),
        macs=f"{card.multiply_adds / 1e9:.2f} G" if card.multiply_adds >= 1e9 else f"{card.multiply_adds / 1e6:.1f} M",
        seconds=seconds,
        layers=len(card.layers),
        figures=card.lecture_figures,
        training=_format_training(card.training, language),
    )
    loss = next(
        (folder / f"{model_key}.loss.png" for folder in settings.weights_dirs() if (folder / f"{model_key}.loss.png").is_file()),
        None,
    )
    # A copy: the weights folders are blocked paths, never served as they are.
    loss_picture = None if loss is None else common.png_file(np.asarray(Image.open(loss).convert("RGB")))
    # The picture's words in the page's language (drawn again: a few milliseconds).
    picture = inside.diagram(card.layers, DIAGRAM_WORDS_PT) if language == PORTUGUESE else card.diagram
    return text, common.png_file(picture), loss_picture, card.summary_text, card.summary()


def build() -> None:
    """The card's model choice, texts, pictures and event."""
    keys = list(registry.REGISTRY)
    gr.Markdown(t("sd_inside_cards_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            model = gr.Dropdown(common.model_choices(keys), value="unet", label=t("sd_model"))
            button = gr.Button(t("sd_inside_card_button"), variant="primary")
            card = gr.Markdown(label=t("sd_inside_card"))
            loss = gr.Image(label=t("sd_inside_loss"), format="png", interactive=False)
        with gr.Column(scale=1, min_width=300):
            diagram = gr.Image(label=t("sd_inside_diagram"), format="png", interactive=False)
    with gr.Accordion(t("sd_inside_summary"), open=False):
        summary_text = gr.Code(language=None, interactive=False, label=t("sd_inside_summary"), show_label=False)
    summary = gr.JSON(label=t("sd_inside_card_json"), visible=False)
    button.click(
        run_model_card, model, [card, diagram, loss, summary_text, summary], api_name="model_card", concurrency_id="inference"
    )
