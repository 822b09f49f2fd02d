"""segdemo: compare the lecture's segmentation models side by side (Gradio Blocks UI only).

Run with `make run` (or `python app.py`); GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are respected.
The UI is built from small named handlers; everything else lives in the `segdemo` package.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

# Before Gradio is imported: no usage analytics leave the server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from segdemo import compare, health, registry, runtime, samples, settings  # noqa: E402
from segdemo.predict import predict as run_prediction  # noqa: E402

BINARY_KEYS = [key for key, spec in registry.REGISTRY.items() if spec.task == registry.BINARY]
DEFAULT_COMPARISON = registry.keys("eliret")
INTRO = """
# segdemo: semantic segmentation, side by side
Models from the lecture on FCN, U-Net and PSPNet. Pick an example or upload an image, tick models,
and compare their grey and binarized outputs. With a ground-truth mask, MSE and IoU are shown too.
Everything runs on the server's CPU.
"""


OUTPUT_FOLDER = Path(tempfile.gettempdir()) / "segdemo-outputs"
OUTPUT_MAX_AGE_S = 3600


class UploadedImage(gr.Image):
    """An image input handed to the handler as the uploaded file's path, unopened.

    gr.Image opens every upload with Pillow before the handler runs, so a broken file gets
    Gradio's generic error; here `segdemo.images` does all the checking and says what is wrong.
    """

    def get_block_name(self) -> str:
        return "image"  # the ordinary image widget in the browser

    def preprocess(self, payload):
        if payload is None or payload.path is None:
            return super().preprocess(payload)
        return str(payload.path)


def png_file(pixels) -> str:
    """Writes a result image to its own PNG file and returns the path.

    Each request gets a fresh file: Gradio's cache names arrays by their content, and two
    students sending the same example at once would otherwise rewrite one file while the
    other is being downloaded. Files older than an hour are removed.
    """
    OUTPUT_FOLDER.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - OUTPUT_MAX_AGE_S
    for old in OUTPUT_FOLDER.glob("*.png"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    descriptor, path = tempfile.mkstemp(suffix=".png", dir=OUTPUT_FOLDER)
    with os.fdopen(descriptor, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")
    return path


def model_choices(keys: list[str]) -> list[tuple[str, str]]:
    """(label, key) pairs for a checkbox group or dropdown."""
    return [(registry.REGISTRY[key].title, key) for key in keys]


def run_comparison(image, truth, model_keys, threshold):
    """Handler of the Compare button: figure and results table."""
    if image is None:
        raise gr.Error("Upload an image or choose an example first.")
    try:
        figure, rows = compare.compare(image, list(model_keys or []), threshold, truth)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return png_file(figure), compare.table(rows)


def run_single(image, model_key, threshold):
    """Handler of the API endpoint `/predict`: (image, model key, threshold) → overlay, summary."""
    if image is None:
        raise gr.Error("Upload an image first.")
    try:
        result = run_prediction(image, model_key, threshold)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return png_file(result.overlay), result.summary()


def run_photos(image, model_keys, pipeline, threshold, opacity, progress=gr.Progress()):
    """Handler of the photo tab: each chosen PSPNet's overlay with legend, and a table."""
    if image is None:
        raise gr.Error("Upload a photo, take one with the webcam, or choose an example first.")

    def report(index, count, title):
        progress(index / count, desc=f"Running {title} ({index + 1} of {count}) on the CPU…")

    try:
        results = compare.compare_photos(image, list(model_keys or []), threshold, pipeline, opacity, on_model=report)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    gallery = [(png_file(panel), f"{title}: {outcome.seconds:.1f} s") for title, panel, outcome in results if panel is not None]
    rows = [
        [title, None, str(outcome)]
        if panel is None
        else [title, round(outcome.seconds, 2), ", ".join(f"{name} {share * 100:.0f} %" for name, share in list(outcome.class_fractions.items())[:5])]
        for title, panel, outcome in results
    ]
    if not gallery:
        gr.Warning("None of the chosen models has its weights on this server: see the table.")
    return gallery, rows


def new_augmentation_sample(dataset, seed):
    """Handler of the augmentation preview: a fresh random transform of a few pairs."""
    try:
        figure = samples.augmentation_preview(dataset, int(seed))
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return png_file(figure), int(seed) + 1


def comparison_tab() -> None:
    with gr.Row():
        with gr.Column(scale=1):
            image = UploadedImage(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"], height=260)
            truth = UploadedImage(label="Ground truth mask (optional)", type="filepath", image_mode=None, sources=["upload"], height=160)
            models = gr.CheckboxGroup(model_choices(BINARY_KEYS), value=DEFAULT_COMPARISON, label="Models")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Threshold (the lecture binarizes at 0.5)")
            button = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2):
            figure = gr.Image(label="Input, truth, and per model: grey and binarized outputs", format="png", interactive=False)
            table = gr.Dataframe(headers=compare.TABLE_HEADERS, label="Scores", interactive=False)
    # Each example also ticks the models of its family, so one click shows the lecture's point.
    eliret_keys, membrane_keys = registry.keys("eliret"), registry.keys("membrane")
    gr.Examples(
        [[image_path, truth_path, eliret_keys] for image_path, truth_path in samples.eliret_examples()],
        inputs=[image, truth, models],
        label="eliret: test images (32×32), the large maior images and generated ones (plain FCN fails, augmented models work)",
        examples_per_page=6,
    )
    membrane_examples = samples.membrane_examples()
    if membrane_examples:
        gr.Examples(
            [[image_path, truth_path, membrane_keys] for image_path, truth_path in membrane_examples],
            inputs=[image, truth, models],
            label="ISBI-2012 EM slices (validation slices with their labels; unlabelled test slices)",
        )
    button.click(run_comparison, [image, truth, models, threshold], [figure, table], api_name="compare", concurrency_id="inference")


def single_model_tab() -> None:
    gr.Markdown("One model on one image. This is also the API endpoint `/predict` (image, model, threshold).")
    with gr.Row():
        with gr.Column():
            image = UploadedImage(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"])
            model = gr.Dropdown(model_choices(list(registry.REGISTRY)), value="unet", label="Model")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Threshold")
            button = gr.Button("Segment", variant="primary")
        with gr.Column():
            overlay = gr.Image(label="Overlay", format="png", interactive=False)
            summary = gr.JSON(label="Summary")
    button.click(run_single, [image, model, threshold], [overlay, summary], api_name="predict", concurrency_id="inference")


PHOTO_NOTE = """
The three PSPNets of the lecture (figure 16), pretrained on Pascal VOC 2012 (people, animals,
vehicles), ADE20K (150 scene classes) and Cityscapes (street scenes). On a 2-core CPU one photo
takes about 2 s (PSPNet-50), 3 s (PSPNet-101 at 473²) and 6 s (Cityscapes at 713²), plus a few
seconds the first time each network loads; requests wait their turn in one queue.
*Pipeline*: "original" keeps the photo's aspect ratio and feeds BGR, as the weights were trained;
"keras_segmentation" stretches it to a square, as the lecture's library does.
"""


def photos_tab() -> None:
    gr.Markdown(PHOTO_NOTE)
    pspnet_keys = registry.keys("pspnet")
    with gr.Row():
        with gr.Column(scale=1):
            image = UploadedImage(label="Your photo", type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"], height=300)
            models = gr.CheckboxGroup(model_choices(pspnet_keys), value=pspnet_keys, label="Models")
            pipelines = registry.get(pspnet_keys[0]).pipelines if pspnet_keys else ("original",)
            pipeline = gr.Radio(list(pipelines), value=pipelines[0], label="Pipeline")
            threshold = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Leave pixels unlabelled below this class probability")
            opacity = gr.Slider(0.0, 1.0, value=0.55, step=0.05, label="Overlay opacity")
            button = gr.Button("Segment", variant="primary")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Overlays with legends and class areas", format="png", columns=1, height="auto")
            table = gr.Dataframe(headers=["model", "seconds", "largest classes (or why the model is unavailable)"], label="Summary", interactive=False)
    examples = samples.photo_examples()
    if examples:
        gr.Examples([[path] for path in examples], inputs=[image], label="Example photos")
    button.click(run_photos, [image, models, pipeline, threshold, opacity], [gallery, table], api_name="photos", concurrency_id="inference")


def augmentation_tab() -> None:
    gr.Markdown("Paired augmentation (the lecture's figure 13): each image and its mask get the same random transform.")
    with gr.Row():
        dataset = gr.Radio([("eliret (shift ±70 %, flip)", "eliret"), ("membrane (rotate, shift, shear, zoom, flip)", "membrane")], value="eliret", label="Dataset")
        seed = gr.Number(value=1, precision=0, label="Seed")
        button = gr.Button("New sample")
    preview = gr.Image(label="Original and augmented pairs", format="png", interactive=False)
    button.click(new_augmentation_sample, [dataset, seed], [preview, seed], api_name="augmentation_preview")


def build_app() -> gr.Blocks:
    """The whole UI."""
    # delete_cache: uploaded and generated files older than an hour are removed every hour.
    with gr.Blocks(title="segdemo: FCN, U-Net, PSPNet", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Compare models"):
            comparison_tab()
        with gr.Tab("Your photos (PSPNet)"):
            photos_tab()
        with gr.Tab("One model (API)"):
            single_model_tab()
        with gr.Tab("Augmentation preview"):
            augmentation_tab()
    # One queue for all inference: one model runs at a time on the 2-core CPU, and at most
    # QUEUE_SIZE requests wait; beyond that clients get Gradio's "queue is full" answer.
    demo.queue(default_concurrency_limit=1, max_size=settings.get().queue_size)
    return demo


def health_route():
    """GET /health: which models are ready and which weights are missing (JSON)."""
    return health.report()


def main() -> None:
    demo = build_app()
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        show_error=False,  # only our own gr.Error messages reach the browser
        allowed_paths=[],
        blocked_paths=[str(settings.weights_dir()), str(settings.cache_dir())],
        max_file_size="10mb",
        enable_monitoring=False,
        prevent_thread_lock=True,
    )
    demo.app.add_api_route("/health", health_route, methods=["GET"])
    # Load TensorFlow and the small models in the background: the page is up at once and
    # the first comparison does not wait for them.
    threading.Thread(target=runtime.warm_up, args=(registry.keys("eliret"),), daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
