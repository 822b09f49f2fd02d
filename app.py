"""segdemo: compare the lecture's segmentation models side by side (Gradio Blocks UI only).

Run with `make run` (or `python app.py`); GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are respected.
The UI is built from small named handlers; everything else lives in the `segdemo` package.
"""

from __future__ import annotations

import os

import gradio as gr

from segdemo import compare, registry, samples
from segdemo.predict import predict as run_prediction

BINARY_KEYS = [key for key, spec in registry.REGISTRY.items() if spec.task == registry.BINARY]
DEFAULT_COMPARISON = registry.keys("eliret")
INTRO = """
# segdemo: semantic segmentation, side by side
Models from the lecture on FCN, U-Net and PSPNet. Pick an example or upload an image, tick models,
and compare their grey and binarized outputs. With a ground-truth mask, MSE and IoU are shown too.
Everything runs on the server's CPU.
"""


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
    return figure, compare.table(rows)


def run_single(image, model_key, threshold):
    """Handler of the API endpoint `/predict`: (image, model key, threshold) → overlay, summary."""
    if image is None:
        raise gr.Error("Upload an image first.")
    try:
        result = run_prediction(image, model_key, threshold)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return result.overlay, result.summary()


def new_augmentation_sample(dataset, seed):
    """Handler of the augmentation preview: a fresh random transform of a few pairs."""
    try:
        figure = samples.augmentation_preview(dataset, int(seed))
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return figure, int(seed) + 1


def comparison_tab() -> None:
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"], height=260)
            truth = gr.Image(label="Ground truth mask (optional)", type="filepath", image_mode=None, sources=["upload"], height=160)
            models = gr.CheckboxGroup(model_choices(BINARY_KEYS), value=DEFAULT_COMPARISON, label="Models")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Threshold (the lecture binarizes at 0.5)")
            button = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2):
            figure = gr.Image(label="Input, truth, and per model: grey and binarized outputs", format="png", interactive=False)
            table = gr.Dataframe(headers=compare.TABLE_HEADERS, label="Scores", interactive=False)
    examples = samples.eliret_examples() + samples.membrane_examples()
    gr.Examples(examples, inputs=[image, truth], label="Examples: eliret test images, large images, EM slices")
    button.click(run_comparison, [image, truth, models, threshold], [figure, table], api_name="compare", concurrency_id="inference")


def single_model_tab() -> None:
    gr.Markdown("One model on one image. This is also the API endpoint `/predict` (image, model, threshold).")
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"])
            model = gr.Dropdown(model_choices(list(registry.REGISTRY)), value="unet", label="Model")
            threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Threshold")
            button = gr.Button("Segment", variant="primary")
        with gr.Column():
            overlay = gr.Image(label="Overlay", format="png", interactive=False)
            summary = gr.JSON(label="Summary")
    button.click(run_single, [image, model, threshold], [overlay, summary], api_name="predict", concurrency_id="inference")


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
    with gr.Blocks(title="segdemo: FCN, U-Net, PSPNet") as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Compare models"):
            comparison_tab()
        with gr.Tab("One model (API)"):
            single_model_tab()
        with gr.Tab("Augmentation preview"):
            augmentation_tab()
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


def main() -> None:
    demo = build_app()
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        show_error=False,
        blocked_paths=["weights"],
        max_file_size="10mb",
    )


if __name__ == "__main__":
    main()
