"""Tab 4: PSPNet on your photos (the lecture's figure 16 and program 9)."""

from __future__ import annotations

import gradio as gr

from segdemo import compare, registry, samples
from ui import class_names_pt, common, i18n, messages
from ui.common import UploadedImage
from ui.i18n import PORTUGUESE, t

STRINGS = i18n.register(
    {
        "sd_photos_tab": ("4 · PSPNet on photos", "4 · PSPNet em fotos"),
        "sd_photos_intro": (
            ("**The lecture's figure 16 and program 9.** PSPNets pretrained on large datasets give every pixel of a photo a class: "
            "Pascal VOC 2012 knows 20 kinds of objects (people, animals, vehicles, furniture), ADE20K 150 scene classes and "
            "Cityscapes 19 street-scene classes. Only the VOC network, the lecture's default, is ticked: on this CPU each network "
            "takes 2–6 s per photo and everyone's requests wait in one queue, so tick the others only when you want to compare them."),
            ("**A figura 16 e o programa 9 da aula.** PSPNets pré-treinadas em grandes conjuntos de dados dão uma classe a cada "
            "pixel de uma foto: a Pascal VOC 2012 conhece 20 tipos de objetos (pessoas, animais, veículos, móveis), a ADE20K 150 "
            "classes de cenas e a Cityscapes 19 classes de cenas de rua. Só a rede VOC, o padrão da aula, vem marcada: nesta CPU "
            "cada rede leva 2–6 s por foto e os pedidos de todos esperam numa só fila; marque as outras só para compará-las."),
        ),
        "sd_photos_pipeline_note": (
            ("*Pipeline*: **original** keeps the photo's aspect ratio and feeds BGR, as the weights were trained in Caffe; "
            "**keras_segmentation** stretches it to a square, as the lecture's library does."),
            ("*Pipeline*: **original** mantém a proporção da foto e usa BGR, como os pesos foram treinados no Caffe; "
            "**keras_segmentation** estica a foto para um quadrado, como faz a biblioteca usada na aula."),
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
        "sd_photos_col_classes": ("largest classes (or why the model is unavailable)", "maiores classes (ou por que o modelo está indisponível)"),
        "sd_photos_no_image": (
            "Upload a photo, take one with the webcam, or choose an example first.",
            "Envie uma foto, tire uma com a webcam ou escolha um exemplo primeiro.",
        ),
        "sd_photos_progress": ("Running {title} ({number} of {count}) on the CPU…", "Rodando {title} ({number} de {count}) na CPU…"),
        "sd_photos_none_available": (
            "None of the chosen models has its weights on this server: see the table.",
            "Nenhum dos modelos escolhidos tem os pesos neste servidor: veja a tabela.",
        ),
        "sd_photos_examples_pspnet_voc": ("Photos for Pascal VOC 2012 (people, animals)", "Fotos para a Pascal VOC 2012 (pessoas, animais)"),
        "sd_photos_examples_pspnet_ade20k": ("Photos for ADE20K (scenes)", "Fotos para a ADE20K (cenas)"),
        "sd_photos_examples_pspnet_cityscapes": ("Photos for Cityscapes (streets)", "Fotos para a Cityscapes (ruas)"),
        "sd_photos_credits": ("Photo credits", "Créditos das fotos"),
    }
)

DEFAULT_MODELS = ["pspnet_voc"]


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
        results = compare.compare_photos(image, list(model_keys or []), threshold, pipeline, opacity, on_model=report, class_names=names)
    titles = {registry.get(key).title: common.model_title(key, language) for key in registry.keys("pspnet")}
    gallery = [(common.png_file(panel), f"{titles.get(title, title)}: {outcome.seconds:.1f} s") for title, panel, outcome in results if panel is not None]
    rows = []
    for title, panel, outcome in results:
        if panel is None:
            rows.append([titles.get(title, title), None, messages.translate(str(outcome), language)])
            continue
        translate = names(outcome.classes) if names else {}
        largest = ", ".join(f"{translate.get(name, name)} {share * 100:.0f} %" for name, share in list(outcome.class_fractions.items())[:5])
        rows.append([titles.get(title, title), round(outcome.seconds, 2), largest])
    if not gallery:
        gr.Warning(i18n.text("sd_photos_none_available", language))
    headers = [i18n.text(key, language) for key in ("sd_photos_col_model", "sd_photos_col_seconds", "sd_photos_col_classes")]
    return gallery, common.table(rows, headers)


def build() -> None:
    """The tab: intro, the photo and the PSPNets (VOC ticked), the overlays; examples per dataset with credits."""
    pspnet_keys = registry.keys("pspnet")
    with gr.Tab(t("sd_photos_tab"), id="photos"):
        gr.Markdown(t("sd_photos_intro"))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                image = UploadedImage(label=t("sd_photos_image"), type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"], height=300)
                models = gr.CheckboxGroup(common.model_choices(pspnet_keys), value=[key for key in DEFAULT_MODELS if key in pspnet_keys], label=t("sd_models"))
                with gr.Accordion(t("sd_cmp_about_models"), open=False):
                    common.model_descriptions(pspnet_keys)
                pipelines = list(registry.get(pspnet_keys[0]).pipeline_names) if pspnet_keys else ["original"]
                pipeline = gr.Radio(pipelines, value=pipelines[0], label=t("sd_photos_pipeline"))
                gr.Markdown(t("sd_photos_pipeline_note"))
                threshold = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label=t("sd_photos_threshold"))
                opacity = gr.Slider(0.0, 1.0, value=0.55, step=0.05, label=t("sd_photos_opacity"))
                button = gr.Button(t("sd_photos_button"), variant="primary")
            with gr.Column(scale=2, min_width=300):
                gallery = gr.Gallery(label=t("sd_photos_gallery"), format="png", columns=1, height="auto")
                table = gr.Dataframe(
                    headers=["model", "seconds", "largest classes"], label=t("sd_photos_table"), interactive=False, visible=False, wrap=True
                )
        credits = []
        for key, photos in samples.photos_by_model().items():
            if photos:
                common.examples([[str(photo.image)] for photo in photos], inputs=[image], label=t(f"sd_photos_examples_{key}"))
                credits += photos
        if credits:
            i18n.register({"sd_photos_credit_lines": (_credits(credits, "en"), _credits(credits, "pt"))})
            with gr.Accordion(t("sd_photos_credits"), open=False):
                gr.Markdown(t("sd_photos_credit_lines"))
    event = button.click(run_photos, [image, models, pipeline, threshold, opacity], [gallery, table], api_name="photos", concurrency_id="inference")
    common.show_after(event, table)
