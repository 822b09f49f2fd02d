"""The "Building blocks" view: the lecture's layers on a tiny table of numbers
(`segdemo.inside.blocks`).
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from segdemo import inside
from ui import common, i18n
from ui.i18n import t

STRINGS = i18n.register(
    {
        "sd_inside_blocks_tab": ("Building blocks", "Blocos básicos"),
        "sd_inside_blocks_intro": (
            (
                "**The lecture's first exercise: what convolution and transposed convolution do.** Edit the tiny image and the "
                "3×3 kernel, choose an operation: the output is computed by the real Keras layer with your kernel as its weights "
                "(no bias). The default kernel [[1,2,1],[2,4,2],[1,2,1]] is a small blur chosen for this playground, not the "
                "lecture's own."
            ),
            (
                "**O primeiro exercício da aula: o que fazem a convolução e a convolução transposta.** Edite a pequena imagem e o "
                "núcleo 3×3 e escolha uma operação: a saída é calculada pela camada Keras de verdade com o seu núcleo como pesos "
                "(sem bias). O núcleo padrão [[1,2,1],[2,4,2],[1,2,1]] é um pequeno desfoque escolhido para este exercício, não o "
                "da aula."
            ),
        ),
        "sd_inside_block_image": ("Image (edit the numbers; up to 12×12)", "Imagem (edite os números; até 12×12)"),
        "sd_inside_block_kernel": ("Kernel 3×3", "Núcleo 3×3"),
        "sd_inside_operation": ("Operation", "Operação"),
        "sd_inside_padding": ("Padding", "Preenchimento (padding)"),
        "sd_inside_op_conv_stride2": ("Conv2D 3×3, stride 2", "Conv2D 3×3, passo 2"),
        "sd_inside_op_upsample_nearest": ("UpSampling2D ×2, nearest", "UpSampling2D ×2, vizinho mais próximo"),
        "sd_inside_op_upsample_bilinear": ("UpSampling2D ×2, bilinear", "UpSampling2D ×2, bilinear"),
        "sd_inside_op_transposed_stride2": ("Conv2DTranspose 3×3, stride 2", "Conv2DTranspose 3×3, passo 2"),
        "sd_inside_op_max_pool": ("MaxPooling2D 2×2", "MaxPooling2D 2×2"),
        "sd_inside_op_dilated_conv": ("Conv2D 3×3, dilation 2", "Conv2D 3×3, dilatação 2"),
        "sd_inside_block_button": ("Compute", "Calcular"),
        "sd_inside_block_picture": (
            "Input, kernel and output: numbers and pictures",
            "Entrada, núcleo e saída: números e imagens",
        ),
        "sd_inside_block_output": ("Output (numbers)", "Saída (números)"),
    }
)


def run_building_block(image, kernel, operation, padding, request: gr.Request):
    """API `/building_block`: (image table, 3×3 kernel table, operation, padding) → picture, output table."""
    language = i18n.language(request)
    with common.user_errors(language):
        picture, output = inside.building_block_picture(
            _table_values(image, "image"), operation, _table_values(kernel, "kernel"), padding
        )
    rounded = np.round(output, 3)
    return common.png_file(picture), {"headers": [str(index) for index in range(rounded.shape[1])], "data": rounded.tolist()}


def _table_values(value, what: str):
    """A Dataframe's value (a dict with "data", a pandas frame or rows) as rows of numbers; `what`
    ("image" or "kernel") names the table in the message, as `segdemo.inside.blocks` does."""
    if value is None:
        raise ValueError(f"The {what} must be a table of numbers.")
    if isinstance(value, dict):
        value = value.get("data", [])
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} must be a table of numbers.") from None


def build() -> None:
    """The playground's tables, choices, picture and event."""
    gr.Markdown(t("sd_inside_blocks_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = gr.Dataframe(
                value=inside.EXAMPLE_IMAGE.astype(int).tolist(),
                label=t("sd_inside_block_image"),
                interactive=True,
                type="array",
                headers=None,
            )
            kernel = gr.Dataframe(
                value=inside.EXAMPLE_KERNEL.astype(int).tolist(),
                label=t("sd_inside_block_kernel"),
                interactive=True,
                type="array",
                headers=None,
            )
            operation = gr.Radio(
                [(t(f"sd_inside_op_{name}"), name) for name in inside.OPERATIONS],
                value="transposed_stride2",
                label=t("sd_inside_operation"),
            )
            padding = gr.Radio(["same", "valid"], value="same", label=t("sd_inside_padding"))
            button = gr.Button(t("sd_inside_block_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            picture = gr.Image(label=t("sd_inside_block_picture"), format="png", interactive=False)
            output = gr.Dataframe(label=t("sd_inside_block_output"), interactive=False)
    button.click(
        run_building_block,
        [image, kernel, operation, padding],
        [picture, output],
        api_name="building_block",
        concurrency_id="blocks",
    )
