"""Tab 4: PSPNet on your photos (the lecture's figure 16 and program 9)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time

import cv2
import gradio as gr
import numpy as np

from segdemo import compare, images, maps, registry, samples
from segdemo.predict import check_opacity, check_threshold, network_outputs, render_prediction
from ui import class_names_pt, common, i18n, messages
from ui.common import UploadedImage
from ui.i18n import PORTUGUESE, t

TITLE_KEY, INTRO_KEY = "sd_photos_tab", "sd_photos_intro"
STRINGS = i18n.register(
    {
        "sd_photos_tab": ("4 · PSPNet on photos", "4 · PSPNet em fotos"),
        "sd_photos_intro": (
            (
                "**The lecture's figure 16 and program 9.** PSPNets pretrained on large datasets give every pixel of a photo a class: "
                "Pascal VOC 2012 knows 20 kinds of objects (people, animals, vehicles, furniture), ADE20K 150 scene classes and "
                "Cityscapes 19 street-scene classes. Only the VOC network, the lecture's default, is ticked: on this CPU each network "
                "takes 1–6 s per photo and everyone's requests wait in one queue, so tick the others only when you want to compare them."
            ),
            (
                "**A figura 16 e o programa 9 da aula.** PSPNets pré-treinadas em grandes conjuntos de dados dão uma classe a cada "
                "pixel de uma foto: a Pascal VOC 2012 conhece 20 tipos de objetos (pessoas, animais, veículos, móveis), a ADE20K 150 "
                "classes de cenas e a Cityscapes 19 classes de cenas de rua. Só a rede VOC, o padrão da aula, vem marcada: nesta CPU "
                "cada rede leva 1–6 s por foto e os pedidos de todos esperam numa só fila; marque as outras só para compará-las."
            ),
        ),
        "sd_photos_pipeline_note": (
            (
                "*Pipeline*: **original** keeps the photo's aspect ratio and feeds BGR, as the weights were trained in Caffe; "
                "**keras_segmentation** stretches it to a square, as the lecture's library does."
            ),
            (
                "*Pipeline*: **original** mantém a proporção da foto e usa BGR, como os pesos foram treinados no Caffe; "
                "**keras_segmentation** estica a foto para um quadrado, como faz a biblioteca usada na aula."
            ),
        ),
        "sd_photos_image": ("Your photo", "Sua foto"),
        "sd_photos_pipeline": ("Pipeline", "Pipeline"),
        "sd_photos_threshold": (
            "Leave a pixel unlabelled when its class probability is below",
            "Deixar o pixel sem rótulo quando a probabilidade da classe for menor que",
        ),
        "sd_photos_opacity": ("Overlay opacity", "Opacidade da sobreposição"),
        "sd_photos_button": ("Segment", "Segmentar"),
        "sd_photos_gallery": ("Overlays with legends and class areas", "Sobreposições com legendas e áreas das classes"),
        "sd_photos_table": ("Summary", "Resumo"),
        "sd_photos_col_model": ("model", "modelo"),
        "sd_photos_col_seconds": ("seconds", "segundos"),
        "sd_photos_col_classes": (
            "largest classes (or why the model is unavailable)",
            "maiores classes (ou por que o modelo está indisponível)",
        ),
        # segdemo.engines: "OpenVINO int8", "TensorFlow float32", ... (the same words in both languages).
        "sd_photos_col_engine": ("computed by", "calculado por"),
        "sd_photos_no_image": (
            "Upload a photo, take one with the webcam, or choose an example first.",
            "Envie uma foto, tire uma com a webcam ou escolha um exemplo primeiro.",
        ),
        "sd_photos_progress": (
            "Running {title} ({number} of {count}) on the CPU…",
            "Rodando {title} ({number} de {count}) na CPU…",
        ),
        "sd_photos_none_available": (
            "None of the chosen models has its weights on this server: see the table.",
            "Nenhum dos modelos escolhidos tem os pesos neste servidor: veja a tabela.",
        ),
        "sd_photos_examples_pspnet_voc": (
            "Photos for Pascal VOC 2012 (people, animals)",
            "Fotos para a Pascal VOC 2012 (pessoas, animais)",
        ),
        "sd_photos_examples_pspnet_ade20k": ("Photos for ADE20K (scenes)", "Fotos para a ADE20K (cenas)"),
        "sd_photos_examples_pspnet_cityscapes": ("Photos for Cityscapes (streets)", "Fotos para a Cityscapes (ruas)"),
        "sd_photos_credits": ("Photo credits", "Créditos das fotos"),
        "sd_photos_results_note": (
            (
                "Each network's classes, side by side. Hover over or click a class in a legend to highlight it (the others fade); "
                "each entry gives the class's area and its mean confidence (top-class probability). Moving the threshold or the "
                "opacity re-renders from the networks' stored outputs: no network runs again. Click a pixel of your photo to see "
                "each network's three most probable classes there."
            ),
            (
                "As classes de cada rede, lado a lado. Passe o mouse ou clique numa classe da legenda para destacá-la (as outras "
                "esmaecem); cada item dá a área da classe e sua confiança média (probabilidade da classe vencedora). Mover o limiar "
                "ou a opacidade redesenha a partir das saídas guardadas das redes: nenhuma rede roda de novo. Clique num pixel da sua "
                "foto para ver as três classes mais prováveis de cada rede ali."
            ),
        ),
        "sd_photos_confidence_short": ("conf.", "conf."),
        "sd_photos_other_classes": ("{count} other classes", "outras {count} classes"),
        "sd_photos_slider": ("Before / after", "Antes / depois"),
        "sd_photos_slider_mode": ("The slider compares", "O controle deslizante compara"),
        "sd_photos_slider_overlay": ("photo and overlay", "foto e sobreposição"),
        "sd_photos_slider_pipelines": ("original and keras_segmentation pipelines", "pipelines original e keras_segmentation"),
        "sd_photos_slider_confidence": (
            "photo and confidence (top-class probability: dark blue low, yellow high)",
            "foto e confiança (probabilidade da classe vencedora: azul-escuro baixa, amarelo alta)",
        ),
        "sd_photos_slider_entropy": (
            "photo and entropy (yellow: the classes are equally likely)",
            "foto e entropia (amarelo: as classes são igualmente prováveis)",
        ),
        "sd_photos_slider_disagreement": (
            "photo and where the two pipelines disagree",
            "foto e onde os dois pipelines discordam",
        ),
        "sd_photos_slider_model": ("Network for the slider and the downloads", "Rede do controle deslizante e dos downloads"),
        "sd_photos_pixel": ("Clicked pixel: the three most probable classes", "Pixel clicado: as três classes mais prováveis"),
        "sd_photos_pixel_hint": (
            "Click a pixel of your photo (after segmenting) to see the networks' three most probable classes there.",
            "Clique num pixel da sua foto (depois de segmentar) para ver as três classes mais prováveis de cada rede ali.",
        ),
        "sd_photos_pixel_at": ("Pixel ({x}, {y})", "Pixel ({x}, {y})"),
        "sd_photos_download_labels": ("Label map (8-bit PNG)", "Mapa de rótulos (PNG de 8 bits)"),
        "sd_photos_download_overlay": ("Overlay (JPEG)", "Sobreposição (JPEG)"),
        "sd_photos_download_summary": ("Summary (JSON)", "Resumo (JSON)"),
    }
)

DEFAULT_MODELS = ["pspnet_voc"]
DEFAULT_OPACITY = 0.55


def _credits(photos: list[samples.Photo], language: str) -> str:
    return "\n".join(f"- **{photo.name}**: {photo.description[language]}. {photo.credit_line(language)}" for photo in photos)


def run_photos(image, model_keys, pipeline, threshold, opacity, request: gr.Request, progress=gr.Progress()):
    """Handler of the photo tab (API `/photos`): each chosen PSPNet's overlay with its legend, and a table."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_photos_no_image", language)

    def report(index, count, title):
        progress(index / count, desc=i18n.text("sd_photos_progress", language, title=title, number=index + 1, count=count))

    names = class_names_pt.portuguese if language == PORTUGUESE else None
    with common.user_errors(language):
        results = compare.compare_photos(
            image, list(model_keys or []), threshold, pipeline, opacity, on_model=report, class_names=names
        )
    titles = {registry.get(key).title: common.model_title(key, language) for key in registry.keys("pspnet")}
    gallery = [
        (common.png_file(panel), f"{titles.get(title, title)}: {outcome.seconds:.1f} s")
        for title, panel, outcome in results
        if panel is not None
    ]
    rows = []
    for title, panel, outcome in results:
        if panel is None:
            rows.append([titles.get(title, title), None, messages.translate(str(outcome), language), None])
            continue
        translate = names(outcome.classes) if names else {}
        largest = ", ".join(
            f"{translate.get(name, name)} {share * 100:.0f} %" for name, share in list(outcome.class_fractions.items())[:5]
        )
        rows.append([titles.get(title, title), round(outcome.seconds, 2), largest, outcome.engine])
    if not gallery:
        gr.Warning(i18n.text("sd_photos_none_available", language))
    columns = ("sd_photos_col_model", "sd_photos_col_seconds", "sd_photos_col_classes", "sd_photos_col_engine")
    headers = [i18n.text(key, language) for key in columns]
    return gallery, common.table(rows, headers)


MAX_LEGEND = 12  # classes listed per network; the rest share one "other classes" entry
MIN_LISTED = 0.001
DISPLAY_SIDE = 640  # the side-by-side views are drawn at most this large (legends count at full size)
SLIDER_SIDE = 1600  # the before/after slider's pictures (a projector's width, with room for a zoom)
OTHER_COLOUR = "#9a9a9a"


def _names(spec: registry.ModelSpec, language: str) -> dict[str, str]:
    return class_names_pt.portuguese(spec.classes) if language == PORTUGUESE else {}


def _rendered(image, keys, pipeline, threshold, opacity):
    """Each chosen network's prediction, rendered from its cached output ((key, prediction or
    None, outputs or None)); a network runs only for outputs not cached yet."""
    pixels = images.load(image)
    results = []
    for key in keys:
        spec = registry.get(key)
        chosen = spec.pipeline(pipeline).name
        try:
            outputs, cached = network_outputs(pixels, spec, chosen)
        except ValueError:  # missing weights: run_photos' table already says why
            results.append((key, None, None))
            continue
        value = check_threshold(threshold, spec)
        started = time.perf_counter()
        prediction = render_prediction(
            pixels, spec, outputs, value, check_opacity(opacity), started=started, cached=cached, pipeline=chosen
        )
        results.append((key, prediction, outputs))
    return pixels, results


def legend(prediction) -> list[maps.LegendEntry]:
    """The prediction's legend (`maps.legend_entries`, English names, unlabelled pixels included):
    counted once per photo and shared by its view and its downloads (0.04 s for 12 megapixels)."""
    spec = registry.get(prediction.model)
    return maps.legend_entries(prediction.labels, prediction.scores, spec.classes, spec.palette)


def annotated_view(
    pixels: np.ndarray, prediction, language: str, opacity: float, entries: list[maps.LegendEntry] | None = None
) -> tuple[tuple, dict[str, str], list[int]]:
    """The value of a gr.AnnotatedImage for one prediction: the photo and one mask per class, each
    labelled with its name (in `language`), area % and mean confidence, with the dataset's colours.

    Args:
        entries: the prediction's `legend()` when it was counted already.

    Returns (value, colour map, class index of each annotation in order; -2: "other classes").
    """
    spec = registry.get(prediction.model)
    names = _names(spec, language)
    entries = [
        dataclasses.replace(entry, name=names.get(entry.name, entry.name))
        for entry in (legend(prediction) if entries is None else entries)
        if entry.index != maps.UNLABELLED
    ]
    size = common.display_size(pixels.shape, DISPLAY_SIDE)
    # The photo as a JPEG file: Gradio would encode an array as a PNG (half of this view's 0.2 s).
    photo = common.jpeg_file(cv2.resize(images.to_rgb(pixels), (size[1], size[0]), interpolation=cv2.INTER_AREA))
    labels = cv2.resize(prediction.labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    confidence = i18n.text("sd_photos_confidence_short", language)
    alpha = np.float32(max(opacity, 0.05))  # fully transparent masks would hide the legend's effect
    annotations, colours, order = [], {}, []
    # Classes under 0.1 % of the photo join "other classes": the legend stays readable.
    listed = [entry for entry in entries if entry.fraction >= MIN_LISTED][:MAX_LEGEND]
    rest = [entry for entry in entries if entry not in listed]
    for entry in listed:
        label = f"{entry.name} {entry.fraction * 100:.1f} % · {confidence} {entry.mean_confidence:.2f}"
        annotations.append(((labels == entry.index).astype(np.float32) * alpha, label))
        colours[label] = entry.hex
        order.append(entry.index)
    if rest:
        label = i18n.text("sd_photos_other_classes", language, count=len(rest))
        label += f" {sum(e.fraction for e in rest) * 100:.1f} %"
        annotations.append((np.isin(labels, [e.index for e in rest]).astype(np.float32) * alpha, label))
        colours[label] = OTHER_COLOUR
        order.append(-2)
    return (photo, annotations), colours, order


def _write(folder: str, name: str, data: bytes) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def downloads(prediction, threshold: float, entries: list[maps.LegendEntry] | None = None) -> tuple[str, str, str]:
    """The label PNG (lossless: class indices), the overlay as a JPEG (a picture to look at: a
    tenth of a PNG's time and size for a 12-megapixel photo, which matters on a class's Wi-Fi) and
    the JSON summary of one prediction, as files named after the model.

    Args:
        entries: the prediction's `legend()` when it was counted already.
    """
    common.OUTPUT_FOLDER.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(dir=common.OUTPUT_FOLDER)  # one folder per request: readable file names, no clashes
    entries = legend(prediction) if entries is None else entries
    stem = f"{prediction.model}_{prediction.pipeline}"
    return (
        _write(folder, f"{stem}_labels.png", maps.label_png(prediction.labels)),
        _write(folder, f"{stem}_overlay.jpg", maps.jpeg_bytes(prediction.overlay)),
        _write(folder, f"{stem}_summary.json", maps.summary_json(prediction, threshold, entries).encode()),
    )


def show_results(image, model_keys, pipeline, threshold, opacity, slider_mode, slider_key, highlight, request: gr.Request):
    """Re-renders every view from the cached network outputs: the side-by-side annotated images,
    the before/after slider, the downloads. Runs a network only for an output not cached yet
    (the other pipeline, for the slider's pipeline comparison)."""
    language = i18n.language(request)
    keys = [key for key in registry.keys("pspnet") if key in (model_keys or [])]
    if image is None or not keys:
        return [gr.skip()] * (len(registry.keys("pspnet")) + 7)
    with common.user_errors(language):
        pixels, results = _rendered(image, keys, pipeline, threshold, opacity)
    views, orders, legends = [], {}, {}
    for key in registry.keys("pspnet"):
        found = next((prediction for shown, prediction, _ in results if shown == key), None)
        if found is None:
            views.append(gr.AnnotatedImage(value=None, visible=False))
            continue
        legends[key] = legend(found)
        value, colours, orders[key] = annotated_view(pixels, found, language, opacity, legends[key])
        views.append(
            gr.AnnotatedImage(
                value=value, color_map=colours, visible=True, label=f"{common.model_title(key, language)}: {pipeline}"
            )
        )
    shown = [key for key, prediction, _ in results if prediction is not None]
    if not shown:
        return [*views, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), orders, None]
    slider_key = slider_key if slider_key in shown else shown[0]
    focus = next(prediction for key, prediction, _ in results if key == slider_key)
    spec = registry.get(slider_key)
    if highlight is not None and highlight[0] == slider_key and highlight[1] >= 0:
        painted = maps.overlay(images.to_rgb(pixels), focus.labels, spec.palette, opacity, highlight=highlight[1])
    else:
        painted = focus.overlay
    rgb = images.to_rgb(pixels)
    if slider_mode in ("pipelines", "disagreement"):
        with common.user_errors(language):
            pair = [_rendered(pixels, [slider_key], name, threshold, opacity)[1][0][1] for name in spec.pipeline_names]
        if slider_mode == "pipelines":
            slider = (pair[0].overlay, pair[1].overlay)
        else:  # where the two pipelines of one network give different labels
            slider = (rgb, maps.disagreement_image(maps.disagreement([result.labels for result in pair]), rgb))
    elif slider_mode == "confidence":  # top-class probability: dark blue unsure, yellow sure
        slider = (rgb, maps.colour_scale(focus.scores))
    elif slider_mode == "entropy":  # from the cached raw output through the rest of the network
        outputs = next(outputs for key, _, outputs in results if key == slider_key)
        with common.user_errors(language):
            slider = (rgb, maps.colour_scale(maps.entropy_map(spec, pipeline, outputs)))
    else:
        slider = (rgb, painted)
    # The slider shows the pair at most SLIDER_SIDE wide, as JPEG files written here: Gradio would
    # otherwise encode both at full size as PNGs (5.7 s for a 12-megapixel photo; 0.2 s for the two
    # at SLIDER_SIDE even at zlib's fastest level, against 0.03 s as JPEGs). The downloads keep the full size.
    slider = tuple(common.jpeg_file(common.display_copy(picture, SLIDER_SIDE)) for picture in slider)
    labels_png, overlay_jpeg, summary_file = downloads(focus, float(threshold), legends[slider_key])
    choices = [(common.model_title(key, language), key) for key in shown]
    return [
        *views,
        slider,
        gr.Dropdown(choices=choices, value=slider_key),
        gr.DownloadButton(value=labels_png, visible=True),
        gr.DownloadButton(value=overlay_jpeg, visible=True),
        gr.DownloadButton(value=summary_file, visible=True),
        orders,
        highlight if highlight is not None and highlight[0] == slider_key else None,
    ]


def rerender(
    orders_now, image, model_keys, pipeline, threshold, opacity, slider_mode, slider_key, highlight, request: gr.Request
):
    """A control moved: re-render what is shown, from the cache. Before the first result is shown
    (no legend yet) nothing happens: moving a slider never starts the networks by itself."""
    if not orders_now:
        return [gr.skip()] * (len(registry.keys("pspnet")) + 7)
    return show_results(image, model_keys, pipeline, threshold, opacity, slider_mode, slider_key, highlight, request)


def example_views(image, request: gr.Request):
    """A shipped photo through the default network, for Gradio's example cache: the summary table
    and the before/after slider (plain values: Gradio builds the lazy cache outside the event
    listener, where component updates fail). The side-by-side views follow from the output cache.
    Missing weights raise a translated gr.Error, so nothing is cached then."""
    language = i18n.language(request)
    keys = [key for key in DEFAULT_MODELS if key in registry.keys("pspnet")]
    _, table = run_photos(image, keys, "original", 0.0, DEFAULT_OPACITY, request, progress=lambda *_, **__: None)
    with common.user_errors(language):
        pixels, results = _rendered(image, keys, "original", 0.0, DEFAULT_OPACITY)
    shown = [prediction for _, prediction, _ in results if prediction is not None]
    if not shown:
        raise common.error("sd_photos_none_available", language)
    return table, (images.to_rgb(pixels), shown[0].overlay)


def pixel_classes(image, model_keys, pipeline, evt: gr.SelectData, request: gr.Request):
    """The three most probable classes of each chosen network at the clicked pixel (from the cache)."""
    language = i18n.language(request)
    if image is None or not evt.index:
        return gr.skip()
    x, y = int(evt.index[0]), int(evt.index[1])
    lines = [f"**{i18n.text('sd_photos_pixel_at', language, x=x, y=y)}**"]
    with common.user_errors(language):
        pixels = images.load(image)
        for key in [key for key in registry.keys("pspnet") if key in (model_keys or [])]:
            spec = registry.get(key)
            try:
                outputs, _ = network_outputs(pixels, spec, spec.pipeline(pipeline).name)
            except ValueError:
                continue
            names = _names(spec, language)
            top = maps.pixel_classes(spec, pipeline, outputs, min(x, pixels.shape[1] - 1), min(y, pixels.shape[0] - 1))
            listed = ", ".join(f"{names.get(name, name)} {probability * 100:.1f} %" for name, probability in top)
            lines.append(f"- {common.model_title(key, language)}: {listed}")
    return "\n".join(lines)


def _legend_chooser(key: str):
    """A handler for a click on `key`'s legend: that class becomes the highlighted one (the view
    itself highlights it in the browser; the slider's overlay is re-rendered with the others faded)."""

    def choose(orders_now, evt: gr.SelectData):
        order = (orders_now or {}).get(key, [])
        index = order[evt.index] if isinstance(evt.index, int) and 0 <= evt.index < len(order) else -1
        return (key, index), key

    return choose


def build() -> None:
    """The tab: the photo and its controls, the before/after slider and the clicked pixel's classes,
    then the chosen PSPNets side by side (stacked on a phone), downloads, examples and credits."""
    pspnet_keys = registry.keys("pspnet")
    with gr.Tab(t("sd_photos_tab"), id="photos"):
        gr.Markdown(t("sd_photos_intro"))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                image = UploadedImage(
                    label=t("sd_photos_image"),
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "webcam", "clipboard"],
                    height=300,
                )
                models = gr.CheckboxGroup(
                    common.model_choices(pspnet_keys),
                    value=[key for key in DEFAULT_MODELS if key in pspnet_keys],
                    label=t("sd_models"),
                )
                with gr.Accordion(t("sd_cmp_about_models"), open=False):
                    common.model_descriptions(pspnet_keys)
                pipelines = list(registry.get(pspnet_keys[0]).pipeline_names) if pspnet_keys else ["original"]
                pipeline = gr.Radio(pipelines, value=pipelines[0], label=t("sd_photos_pipeline"))
                gr.Markdown(t("sd_photos_pipeline_note"))
                threshold = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label=t("sd_photos_threshold"))
                opacity = gr.Slider(0.0, 1.0, value=DEFAULT_OPACITY, step=0.05, label=t("sd_photos_opacity"))
                button = gr.Button(t("sd_photos_button"), variant="primary")
            with gr.Column(scale=1, min_width=300):
                slider = gr.ImageSlider(
                    label=t("sd_photos_slider"), type="numpy", format="jpeg", interactive=False, max_height=420
                )
                slider_mode = gr.Radio(
                    [
                        (t("sd_photos_slider_overlay"), "overlay"),
                        (t("sd_photos_slider_confidence"), "confidence"),
                        (t("sd_photos_slider_entropy"), "entropy"),
                        (t("sd_photos_slider_pipelines"), "pipelines"),
                        (t("sd_photos_slider_disagreement"), "disagreement"),
                    ],
                    value="overlay",
                    label=t("sd_photos_slider_mode"),
                )
                slider_key = gr.Dropdown(
                    common.model_choices(pspnet_keys),
                    value=pspnet_keys[0] if pspnet_keys else None,
                    label=t("sd_photos_slider_model"),
                )
                with gr.Row():
                    download_labels = gr.DownloadButton(t("sd_photos_download_labels"), visible=False, size="sm")
                    download_overlay = gr.DownloadButton(t("sd_photos_download_overlay"), visible=False, size="sm")
                    download_summary = gr.DownloadButton(t("sd_photos_download_summary"), visible=False, size="sm")
                pixel = gr.Markdown(t("sd_photos_pixel_hint"), label=t("sd_photos_pixel"), elem_id="sd-photos-pixel")
        gr.Markdown(t("sd_photos_results_note"))
        # One row: side by side on a laptop; each view's min_width makes them stack on a phone.
        with gr.Row(equal_height=False, elem_id="sd-photos-results"):
            views = [
                gr.AnnotatedImage(
                    label=common.model_title(key, "en"),
                    visible=False,
                    min_width=320,
                    height=360,
                    format="png",
                    elem_id=f"sd-view-{key}",
                )
                for key in pspnet_keys
            ]
        gallery = gr.Gallery(label=t("sd_photos_gallery"), format="png", columns=3, height="auto", visible=False)
        table = gr.Dataframe(
            headers=["model", "seconds", "largest classes", "computed by"],
            label=t("sd_photos_table"),
            interactive=False,
            visible=False,
            wrap=True,
        )
        orders = gr.State({})  # key -> class index of each legend entry, in order
        highlight = gr.State(None)  # (key, class index) chosen in a legend
        credits, cached_examples = [], []
        for key, photos in samples.photos_by_model().items():
            if photos:
                # Gradio's example cache, filled lazily (start-up stays fast): a class clicking the same
                # example costs one inference, and later clicks none.
                cached_examples.append(
                    common.examples(
                        [[str(photo.image)] for photo in photos],
                        inputs=[image],
                        label=t(f"sd_photos_examples_{key}"),
                        fn=example_views,
                        outputs=[table, slider],
                        cache_examples=True,
                        cache_mode="lazy",
                    )
                )
                credits += photos
        if credits:
            i18n.register({"sd_photos_credit_lines": (_credits(credits, "en"), _credits(credits, "pt"))})
            with gr.Accordion(t("sd_photos_credits"), open=False):
                gr.Markdown(t("sd_photos_credit_lines"))

    view_inputs = [image, models, pipeline, threshold, opacity, slider_mode, slider_key, highlight]
    view_outputs = [*views, slider, slider_key, download_labels, download_overlay, download_summary, orders, highlight]
    run_inputs = [image, models, pipeline, threshold, opacity]
    # The networks run here (API /photos: overlays and a table); the views are then drawn from the cache.
    # The queue position and ETA are drawn on the slider too: the gallery and table stay hidden until a first result.
    event = button.click(
        run_photos,
        run_inputs,
        [gallery, table],
        api_name="photos",
        concurrency_id="inference",
        show_progress_on=[slider, gallery, table],
    )
    common.show_after(event, table)
    # Callable by API clients too (undocumented), so that bench.burst can do what a browser does.
    event.success(
        show_results,
        view_inputs,
        view_outputs,
        api_name="photo_views",
        api_visibility="undocumented",
        concurrency_id="views",
        concurrency_limit=1,
    )
    # Re-rendering only: the cached outputs are drawn again (a pipeline never run on this photo runs once).
    image.change(lambda: {}, None, orders, queue=False, api_visibility="private")  # a new photo: nothing to re-render yet
    for trigger in (threshold.release, opacity.release, slider_mode.change, slider_key.input, pipeline.input):
        trigger(
            rerender,
            [orders, *view_inputs],
            view_outputs,
            api_visibility="private",
            concurrency_id="inference",
            show_progress="hidden",
        )

    for key, view in zip(pspnet_keys, views):
        view.select(_legend_chooser(key), [orders], [highlight, slider_key], api_visibility="private", queue=False).then(
            show_results, view_inputs, view_outputs, api_visibility="private", concurrency_id="inference", show_progress="hidden"
        )
    # An example's table and slider come from Gradio's example cache; its views from the output cache.
    default_models = gr.State([key for key in DEFAULT_MODELS if key in pspnet_keys])
    example_inputs = [
        image,
        default_models,
        gr.State("original"),
        gr.State(0.0),
        gr.State(DEFAULT_OPACITY),
        gr.State("overlay"),
        slider_key,
        gr.State(None),
    ]
    for examples in cached_examples:
        examples.cache_event.then(
            show_results,
            example_inputs,
            view_outputs,
            api_visibility="private",
            concurrency_id="inference",
            show_progress="hidden",
        )
        common.show_after(examples.cache_event, table)
    image.select(pixel_classes, [image, models, pipeline], [pixel], api_visibility="private", concurrency_id="inference")
