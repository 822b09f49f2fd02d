"""The comparison block the first three tabs share: image, optional truth, models, threshold,
one button; the figure (grey and binarized outputs per model), a note and a table of scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from segdemo import compare, registry, samples
from ui import common, i18n, maps_panel, messages
from ui.common import UploadedImage
from ui.i18n import t

STRINGS = i18n.register(
    {
        "sd_cmp_truth": ("Ground-truth mask (optional)", "Saída ideal / máscara verdadeira (opcional)"),
        "sd_cmp_button": ("Compare", "Comparar"),
        "sd_cmp_figure": ("Input and outputs per model", "Entrada e saídas por modelo"),
        "sd_cmp_table": ("Scores", "Resultados"),
        "sd_cmp_threshold": ("Threshold (the lecture binarizes at 0.5)", "Limiar (a aula binariza em 0,5)"),
        "sd_cmp_about_models": ("What each model is", "O que é cada modelo"),
        # Words drawn into the figure (segdemo.compare.CAPTIONS keys).
        "sd_fig_input": ("input image", "imagem de entrada"),
        "sd_fig_size": ("{width} × {height} px", "{width} × {height} px"),
        "sd_fig_truth": ("ground truth", "saída ideal"),
        "sd_fig_no_truth": ("no ground truth given", "sem saída ideal"),
        "sd_fig_grey": ("grey output", "saída em níveis de cinza"),
        "sd_fig_binary": ("binarized output", "saída binarizada"),
        "sd_fig_missing": ("not available: weights missing (see the table)", "indisponível: faltam os pesos (veja a tabela)"),
        "sd_fig_tta": ("+ TTA (8 views)", "+ TTA (8 vistas)"),
        # Table headers (compare.TABLE_HEADERS order).
        "sd_tab_model": ("model", "modelo"),
        "sd_tab_mse": ("MSE vs truth", "MSE x saída ideal"),
        "sd_tab_iou": ("IoU vs truth", "IoU x saída ideal"),
        "sd_tab_ms": ("time (ms)", "tempo (ms)"),
        "sd_tab_fg": ("foreground %", "% de primeiro plano"),
        "sd_tab_note": ("note", "observação"),
        "sd_cmp_padded": (
            "sides not divisible by {multiple}: padded (reflection) to {padded_width}×{padded_height}, output cropped back",
            "lados não divisíveis por {multiple}: completada por reflexão (padding) até {padded_width}×{padded_height}, saída recortada de volta",
        ),
        "sd_cmp_resized": (
            "resized to {size}×{size} for the network, output resized back",
            "redimensionada para {size}×{size} para a rede, saída redimensionada de volta",
        ),
    }
)

CAPTION_KEYS = {
    "input": "sd_fig_input",
    "size": "sd_fig_size",
    "truth": "sd_fig_truth",
    "no_truth": "sd_fig_no_truth",
    "grey": "sd_fig_grey",
    "binary": "sd_fig_binary",
    "missing": "sd_fig_missing",
    "tta": "sd_fig_tta",
}
HEADER_KEYS = ("sd_tab_model", "sd_tab_mse", "sd_tab_iou", "sd_tab_ms", "sd_tab_fg", "sd_tab_note")


def captions(language: str) -> dict[str, str]:
    """The figure's words in `language`."""
    return {name: i18n.text(key, language) for name, key in CAPTION_KEYS.items()}


def headers(language: str) -> list[str]:
    """The results table's headers in `language`."""
    return [i18n.text(key, language) for key in HEADER_KEYS]


def row_note(row: compare.ComparisonRow, language: str) -> str:
    """What the app did to the image for this model (padding, resizing), or why it could not run."""
    if row.prediction is None:
        return messages.translate(row.error or "", language)
    spec = registry.get(row.key)
    height, width = row.prediction.labels.shape
    multiple = getattr(spec.default_pipeline, "size_multiple", 1)  # PSPNet pipelines have none
    if spec.fully_convolutional and multiple > 1 and (height % multiple or width % multiple):
        padded_height, padded_width = -(-height // multiple) * multiple, -(-width // multiple) * multiple
        return i18n.text("sd_cmp_padded", language, multiple=multiple, padded_width=padded_width, padded_height=padded_height)
    if spec.input_size is not None and (height, width) != tuple(spec.input_size):
        return i18n.text("sd_cmp_resized", language, size=spec.input_size[0])
    return ""


def run(
    image,
    truth,
    model_keys,
    threshold,
    language: str,
    threshold_to_library: Callable[[float], float] = float,
    trained=None,
    tta: bool = False,
):
    """Runs the comparison and returns (figure PNG, table) in `language`; `trained`: a model trained
    in this browser (ui.tabs.train), added as the last row; `tta`: each membrane model also
    averaged over the eight flips and rotations, in a row of its own (`compare.compare`)."""
    if image is None:
        raise common.error("sd_no_image", language)
    keys = list(model_keys or [])
    with common.user_errors(language):
        value = threshold_to_library(threshold) if isinstance(threshold, (int, float)) else threshold
        figure, rows = compare.compare(
            image,
            keys,
            value,
            truth,
            captions=captions(language),
            titles={key: common.model_title(key, language) for key in keys},
            tta=bool(tta),
        )
    table = compare.table(rows)
    titles = {key: common.model_title(key, language) for key in keys}
    for row, cells in zip(rows, table):
        cells[0] = compare.row_title(row, titles, captions(language))
        cells[-1] = row_note(row, language)
    if trained is not None:
        from ui.tabs import train as train_tab  # here: ui.tabs imports this module

        with common.user_errors(language):
            figure, table = train_tab.session_comparison(image, truth, value, rows, table, trained, language, captions(language))
    return common.png_file(figure), common.table(table, headers(language))


@dataclass(frozen=True)
class ComparisonSettings:
    """What differs between the comparison tabs.

    Attributes:
        model_keys: the models offered, in order.
        default_keys: the models ticked at the start.
        examples: shipped examples (segdemo.samples.Example) for gr.Examples.
        examples_label: translation key of the examples' title.
        threshold_label: translation key of the threshold slider's label.
        api_name: the event's name in the API.
        threshold_to_library: the slider's value -> the library's threshold (membranes: the
            slider follows the lecture's `qp >= limiar`, the library thresholds the membrane score).
        session_model: also show the model trained in this browser, if any (ui.tabs.train).
        tta_label: translation key of a "test-time augmentation" checkbox (None: no checkbox);
            ticked, each model that takes it gets a second row, averaged over 8 flips/rotations.
    """

    model_keys: list[str]
    default_keys: list[str]
    examples: list[samples.Example]
    examples_label: str
    api_name: str
    threshold_label: str = "sd_cmp_threshold"
    threshold_to_library: Callable[[float], float] = float
    session_model: bool = False
    tta_label: str | None = None


def build(settings: ComparisonSettings) -> None:
    """Lays out the comparison block inside the current tab and wires its button.

    Args:
        settings: the models, examples, labels and API name of this tab.
    """
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = UploadedImage(
                label=t("sd_image"), type="filepath", image_mode=None, sources=["upload", "clipboard"], height=240
            )
            truth = UploadedImage(label=t("sd_cmp_truth"), type="filepath", image_mode=None, sources=["upload"], height=160)
            models = gr.CheckboxGroup(
                common.model_choices(settings.model_keys), value=settings.default_keys, label=t("sd_models")
            )
            with gr.Accordion(t("sd_cmp_about_models"), open=True):
                common.model_descriptions(settings.model_keys)
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t(settings.threshold_label))
            tta = [gr.Checkbox(value=False, label=t(settings.tta_label))] if settings.tta_label else []
            button = gr.Button(t("sd_cmp_button"), variant="primary")
        with gr.Column(scale=1, min_width=300):
            figure = gr.Image(label=t("sd_cmp_figure"), format="png", interactive=False)
            table = gr.Dataframe(headers=compare.TABLE_HEADERS, label=t("sd_cmp_table"), interactive=False, visible=False)
    if settings.examples:
        common.examples(
            [[str(example.image), str(example.mask) if example.mask else None] for example in settings.examples],
            inputs=[image, truth],
            label=t(settings.examples_label),
            examples_per_page=12,
            elem_id=f"{settings.api_name}-examples",
        )

    from ui.tabs import train as train_tab

    session = [train_tab.session_state()] if settings.session_model else []

    # Optional inputs have defaults (the API description says so); the page sends them all.
    if tta:

        def handler(image, truth=None, model_keys=(), threshold=0.5, tta=False, request: gr.Request = None):
            """Each chosen model on the image, side by side, scored against the ground truth when one is given;
            `tta`: each membrane model also averaged over the eight flips and rotations."""
            return run(image, truth, model_keys, threshold, i18n.language(request), settings.threshold_to_library, tta=tta)

    else:

        def handler(image, truth=None, model_keys=(), threshold=0.5, trained=None, request: gr.Request = None):
            """Each chosen model on the image, side by side, scored against the ground truth when one is given."""
            return run(image, truth, model_keys, threshold, i18n.language(request), settings.threshold_to_library, trained)

    handler.__name__ = f"run_{settings.api_name}"
    event = button.click(
        handler,
        [image, truth, models, threshold, *tta, *session],
        [figure, table],
        api_name=settings.api_name,
        concurrency_id="inference",
    )
    common.show_after(event, table)
    maps_panel.attach(event, [image, truth, models, threshold], settings.threshold_to_library, settings.model_keys)
