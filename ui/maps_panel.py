"""Maps under a comparison (tabs 1–3): per model, the binarized output next to its error map
(with a ground truth), or its confidence map; the models' disagreement; and their training
curves beside their figures. Everything is drawn from the cached network outputs: switching
the view or moving the threshold runs no network."""

from __future__ import annotations

import gradio as gr
import numpy as np

from segdemo import compare, curves, images, maps, registry, render
from segdemo.predict import network_outputs, render_prediction
from ui import common, i18n
from ui.i18n import PORTUGUESE, t

STRINGS = i18n.register(
    {
        "sd_maps_title": ("Maps", "Mapas"),
        "sd_maps_view": ("Show", "Mostrar"),
        "sd_maps_errors": ("error map (needs the ground truth)", "mapa de erros (precisa da saída ideal)"),
        "sd_maps_confidence": ("confidence map", "mapa de confiança"),
        "sd_maps_disagreement": ("where the models disagree", "onde os modelos discordam"),
        "sd_maps_gallery": ("Binarized output and map, per model", "Saída binarizada e mapa, por modelo"),
        "sd_maps_binary": ("{title}: binarized output", "{title}: saída binarizada"),
        "sd_maps_error_caption": (
            "{title}: error map: true positive {tp} %, false positive {fp} %, false negative {fn} %",
            "{title}: mapa de erros: verdadeiro positivo {tp} %, falso positivo {fp} %, falso negativo {fn} %",
        ),
        "sd_maps_boundary_caption": (
            "; wrong on a membrane boundary {boundary} %",
            "; errado numa borda de membrana {boundary} %",
        ),
        "sd_maps_confidence_caption": (
            "{title}: confidence (distance of the grey output from the threshold): dark blue = on the threshold, yellow = sure",
            "{title}: confiança (distância da saída cinza ao limiar): azul-escuro = no limiar, amarelo = certeza",
        ),
        "sd_maps_disagreement_caption": (
            "Pixels where the models' labels differ: {share} %",
            "Pixels em que os rótulos dos modelos diferem: {share} %",
        ),
        "sd_maps_need_truth": (
            "Give a ground truth (or choose an example with one) to see the error maps; showing confidence instead.",
            "Dê a saída ideal (ou escolha um exemplo que a tenha) para ver os mapas de erros; mostrando a confiança.",
        ),
        "sd_maps_need_two": (
            "Tick at least two models to see where they disagree.",
            "Marque pelo menos dois modelos para ver onde discordam.",
        ),
        "sd_maps_legend_errors": (
            "**Legend**: {tp} true positive (the model and the truth say foreground) · {fp} false positive (only the model) · "
            "{fn} false negative (only the truth){boundary}; dimmed grey: both say background.",
            "**Legenda**: {tp} verdadeiro positivo (modelo e saída ideal dizem primeiro plano) · {fp} falso positivo (só o modelo) · "
            "{fn} falso negativo (só a saída ideal){boundary}; cinza escuro: ambos dizem fundo.",
        ),
        "sd_maps_legend_boundary": (
            " · {colour} wrong on a boundary of the true membranes",
            " · {colour} errado numa borda das membranas verdadeiras",
        ),
        "sd_maps_legend_confidence": (
            "**Legend**: {low} on the threshold (the label could flip) … {high} far from it (sure).",
            "**Legenda**: {low} no limiar (o rótulo poderia mudar) … {high} longe dele (certeza).",
        ),
        "sd_maps_legend_disagreement": (
            "**Legend**: {colour} the models give different labels; dimmed grey: they agree.",
            "**Legenda**: {colour} os modelos dão rótulos diferentes; cinza escuro: concordam.",
        ),
        "sd_curves_title": ("Training curves", "Curvas de treinamento"),
        "sd_curves_image": ("Loss per epoch, log scale", "Perda por época, escala logarítmica"),
        "sd_curves_plot_title": ("{model}: loss per epoch (log scale)", "{model}: perda por época (escala log)"),
        "sd_curves_train": ("training loss", "perda de treino"),
        "sd_curves_valid": ("validation loss", "perda de validação"),
        "sd_curves_epoch": ("epoch", "época"),
        "sd_curves_best": ("best validation: epoch {epoch}", "melhor validação: época {epoch}"),
        "sd_curves_model_line": (
            "- **{title}**: training loss down to {train}, validation loss at best {valid} (epoch {epoch} of {epochs}, "
            "the weights used here), {ratio}× the training loss. {figures}",
            "- **{title}**: perda de treino até {train}, perda de validação no melhor ponto {valid} (época {epoch} de {epochs}, "
            "os pesos usados aqui), {ratio}× a perda de treino. {figures}",
        ),
        "sd_curves_caption": (
            (
                "**What the curves show.** On a log scale, overfitting is the gap between the curves: the training loss keeps "
                "falling while the validation loss stops (or rises). In the lecture the U-Net trained on the 100 centred pairs "
                "reached a training loss near 10⁻⁸ against 10⁻² in validation; the U-Net here was trained on exact rotations and "
                "mirrors of those pairs, so its gap is smaller (about a decade and a half), and the plain FCN's is about one decade."
            ),
            (
                "**O que as curvas mostram.** Em escala logarítmica, o sobreajuste (overfitting) é a distância entre as curvas: a "
                "perda de treino continua caindo enquanto a de validação para (ou sobe). Na aula, a U-Net treinada com os 100 pares "
                "centralizados chegou a uma perda de treino perto de 10⁻⁸ contra 10⁻² na validação; a U-Net daqui foi treinada com "
                "rotações e espelhamentos exatos desses pares, então a distância é menor (cerca de uma década e meia), e a da FCN "
                "simples é de cerca de uma década."
            ),
        ),
        "sd_curves_none": ("No training history for these models.", "Não há histórico de treinamento para esses modelos."),
    }
)

CRISP_SIDE = 256

FIGURE_NAMES = {
    "test MSE": ("test MSE", "MSE de teste"),
    "test IoU": ("test IoU", "IoU de teste"),
    "validation accuracy": ("validation accuracy", "acurácia de validação"),
    "membrane IoU": ("membrane IoU", "IoU das membranas"),
    "large-image IoU": ("large-image IoU", "IoU nas imagens grandes"),
}


def _swatch(colour) -> str:
    return (
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:rgb{tuple(colour)};border:1px solid #444"></span>'
    )


def _percent(value: float) -> str:
    return f"{value * 100:.1f}"


def _number(value: float) -> str:
    return f"{value:.2g}" if value >= 0.01 else f"{value:.1e}"


def _file(pixels: np.ndarray) -> str:
    """A map as a PNG file; a small image (the 32×32 eliret ones) is enlarged without blurring, so
    its pixels stay crisp on a projector."""
    if max(pixels.shape[:2]) < CRISP_SIDE:
        pixels = np.asarray(render.panel(pixels, CRISP_SIDE))
    return common.png_file(pixels)


def legend_text(view: str, language: str, membranes: bool) -> str:
    """The Markdown legend of a view, with colour swatches."""
    if view == "errors":
        boundary = (
            i18n.text("sd_maps_legend_boundary", language, colour=_swatch(maps.ERROR_PALETTE[maps.BOUNDARY_ERROR]))
            if membranes
            else ""
        )
        swatches = {name: _swatch(maps.ERROR_PALETTE[index]) for name, index in (("tp", 0), ("fp", 1), ("fn", 2))}
        return i18n.text("sd_maps_legend_errors", language, boundary=boundary, **swatches)
    if view == "confidence":
        return i18n.text(
            "sd_maps_legend_confidence",
            language,
            low=_swatch(maps.colour_scale(np.zeros((1, 1)))[0, 0]),
            high=_swatch(maps.colour_scale(np.ones((1, 1)))[0, 0]),
        )
    return i18n.text("sd_maps_legend_disagreement", language, colour=_swatch(maps.DISAGREEMENT_COLOUR))


def curves_view(keys: list[str], language: str):
    """The training-curves plot of the models that have a history, and its caption."""
    found = [c for c in (curves.load(key) for key in keys) if c is not None]
    if not found:
        return None, i18n.text("sd_curves_none", language)
    words = {
        name: i18n.text(f"sd_curves_{key}", language)
        for name, key in (("title", "plot_title"), ("train", "train"), ("valid", "valid"), ("epoch", "epoch"), ("best", "best"))
    }
    titles = {c.model: common.model_title(c.model, language) for c in found}
    picture = curves.plot(found, labels=words, titles=titles)
    lines = [i18n.text("sd_curves_caption", language)]
    for c in found:
        gap = c.gap()
        figures = ", ".join(
            f"{FIGURE_NAMES[name][language == PORTUGUESE]} {value:.4g}"
            for name, value in c.figures.items()
            if name in FIGURE_NAMES
        )
        lines.append(
            i18n.text(
                "sd_curves_model_line",
                language,
                title=titles[c.model],
                train=_number(gap["lowest_train"]),
                valid=_number(gap["best_valid"]),
                epoch=c.best_epoch,
                epochs=c.epochs,
                ratio=f"{gap['ratio']:.0f}",
                figures=figures,
            )
        )
    return picture, "\n".join(lines)


def run(image, truth, model_keys, threshold, view: str, language: str, threshold_to_library=float):
    """The maps gallery and its legend, from the cached outputs of the comparison that just ran."""
    if image is None or not model_keys:
        return gr.skip(), gr.skip()
    with common.user_errors(language):
        pixels = images.load(image)
        value = threshold_to_library(threshold)
        truth_mask = None if truth is None else compare.load_truth(truth)
        if truth_mask is not None and truth_mask.shape != pixels.shape[:2]:
            truth_mask = None  # the comparison already said what is wrong with it
        note = ""
        if view == "errors" and truth_mask is None:
            view, note = "confidence", i18n.text("sd_maps_need_truth", language) + "\n\n"
        predictions = []
        for key in model_keys:
            spec = registry.get(key)
            try:
                outputs, _ = network_outputs(pixels, spec)
            except ValueError:  # missing weights: the comparison's table says so
                continue
            predictions.append((spec, render_prediction(pixels, spec, outputs, value, 0.5)))
    rgb = images.to_rgb(pixels)
    items = []
    if view == "disagreement":
        if len(predictions) < 2:
            return [], note + i18n.text("sd_maps_need_two", language)
        differs = maps.disagreement([prediction.labels for _, prediction in predictions])
        caption = i18n.text("sd_maps_disagreement_caption", language, share=_percent(float(differs.mean())))
        return [(_file(maps.disagreement_image(differs, rgb)), caption)], note + legend_text(view, language, False)
    membranes = False
    for spec, prediction in predictions:
        title = common.model_title(spec.key, language)
        inverted = spec.default_pipeline.inverted
        # The binarized output in the network's own convention (membranes: cells white), as the figure shows it.
        items.append(
            (
                _file(render.binary(1 - prediction.labels if inverted else prediction.labels)),
                i18n.text("sd_maps_binary", language, title=title),
            )
        )
        if view == "errors":
            membranes = membranes or spec.family == "membrane"
            foreground_truth = 1.0 - truth_mask if inverted else truth_mask
            result = maps.error_map(prediction.labels, foreground_truth, rgb, boundaries=spec.family == "membrane")
            shares = {entry.index: _percent(entry.fraction) for entry in result.legend}
            caption = i18n.text("sd_maps_error_caption", language, title=title, tp=shares[0], fp=shares[1], fn=shares[2])
            if maps.BOUNDARY_ERROR in shares:
                caption += i18n.text("sd_maps_boundary_caption", language, boundary=shares[maps.BOUNDARY_ERROR])
            items.append((_file(result.image), caption))
        else:
            confidence = maps.colour_scale(maps.binary_confidence(prediction.scores, value))
            items.append((_file(confidence), i18n.text("sd_maps_confidence_caption", language, title=title)))
    captions = "\n".join(f"- {caption}" for _, caption in items[1::2])
    return items, note + legend_text(view, language, membranes) + "\n\n" + captions


def attach(event, inputs: list, threshold_to_library, model_keys: list[str]) -> None:
    """Lays out the maps and the training curves here (inside the current tab) and draws them after
    each successful comparison `event`; the view switch and the threshold redraw from the cache.

    Args:
        event: the comparison's click event.
        inputs: [image, truth, models, threshold] components of the comparison block.
        threshold_to_library: the slider's value -> the library's threshold.
        model_keys: the models the tab offers (their training curves are shown).
    """
    with gr.Accordion(t("sd_maps_title"), open=True, elem_classes=["sd-maps"]):
        view = gr.Radio(
            [
                (t("sd_maps_errors"), "errors"),
                (t("sd_maps_confidence"), "confidence"),
                (t("sd_maps_disagreement"), "disagreement"),
            ],
            value="errors",
            label=t("sd_maps_view"),
        )
        gallery = gr.Gallery(label=t("sd_maps_gallery"), columns=2, height="auto", format="png", object_fit="contain")
        legend = gr.Markdown()
    with gr.Accordion(t("sd_curves_title"), open=False, elem_classes=["sd-curves"]):
        with gr.Row(equal_height=False):
            plot = gr.Image(label=t("sd_curves_image"), format="png", interactive=False, min_width=300)
            caption = gr.Markdown(min_height=0)

    def draw(image, truth, models, threshold, view_now, request: gr.Request):
        return run(image, truth, models, threshold, view_now, i18n.language(request), threshold_to_library)

    def draw_curves(models, request: gr.Request):
        keys = [key for key in model_keys if key in (models or [])] or model_keys
        return curves_view(keys, i18n.language(request))

    options = {"api_visibility": "private", "concurrency_id": "inference"}
    event.success(draw, [*inputs, view], [gallery, legend], **options)
    event.success(draw_curves, [inputs[2]], [plot, caption], api_visibility="private", queue=False)
    view.change(draw, [*inputs, view], [gallery, legend], **options)
    inputs[3].release(draw, [*inputs, view], [gallery, legend], **options)
