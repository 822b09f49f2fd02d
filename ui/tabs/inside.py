"""Tab 6: look inside the networks (issue 14): feature maps and skip connections, PSPNet's pyramid
pooling module and dilated convolutions, the lecture's building blocks, and model cards.

Everything is computed by `segdemo.inside` from the real models; this module only lays out the
four parts and translates what the handlers write at run time.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
from PIL import Image

from segdemo import inside, registry, samples, settings
from segdemo.datasets import membrane
from ui import common, i18n
from ui.common import UploadedImage
from ui.i18n import PORTUGUESE, t

ROLE_NAMES = {
    "input": ("input", "entrada"),
    "encoder": ("encoder", "codificador"),
    "bottleneck": ("bottleneck", "gargalo"),
    "decoder": ("decoder", "decodificador"),
    "skip": ("skip connection", "conexão de atalho"),
    "pyramid": ("pyramid pooling", "pirâmide de pooling"),
}

TITLE_KEY, INTRO_KEY = "sd_inside_tab", "sd_inside_intro"  # for the browser test (see ui/tabs/__init__.py)
STRINGS = i18n.register(
    {
        "sd_inside_tab": ("6 · Look inside", "6 · Por dentro da rede"),
        "sd_inside_intro": (
            (
                "**Look inside the networks.** What each layer computes for your image, why skip connections matter, what "
                "PSPNet's pyramid pooling adds, what the building blocks of the lecture do to a few pixels, and what each model costs. "
                "Everything is computed by the same networks, with the same weights, as the other tabs."
            ),
            (
                "**Por dentro das redes.** O que cada camada calcula para a sua imagem, por que as conexões de atalho (skip) "
                "importam, o que a pirâmide de pooling da PSPNet acrescenta, o que os blocos básicos da aula fazem com alguns pixels "
                "e quanto custa cada modelo. Tudo é calculado pelas mesmas redes, com os mesmos pesos, das outras abas."
            ),
        ),
        # Feature maps
        "sd_inside_fm_tab": ("Feature maps", "Mapas de características"),
        "sd_inside_fm_intro": (
            (
                "Pick a model and a layer (listed in the network's order, with its output size and part: encoder, bottleneck, "
                "decoder, skip connection). The grid shows the layer's strongest 16 channels (by mean activation; all when fewer), "
                "each scaled to its own range, with the layer's size written on top: the resolution falls in the encoder and rises "
                "in the decoder."
            ),
            (
                "Escolha um modelo e uma camada (na ordem da rede, com o tamanho da saída e a parte: codificador, gargalo, "
                "decodificador, conexão de atalho). A grade mostra os 16 canais mais fortes da camada (pela ativação média; todos "
                "quando há menos), cada um na sua própria escala, com o tamanho da camada escrito em cima: a resolução cai no "
                "codificador e sobe no decodificador."
            ),
        ),
        "sd_inside_layer": ("Layer (name · output size · part)", "Camada (nome · tamanho da saída · parte)"),
        "sd_inside_fm_button": ("Show the feature maps", "Mostrar os mapas de características"),
        "sd_inside_fm_picture": ("Channels of the layer", "Canais da camada"),
        "sd_inside_fm_json": ("Layer and channels (JSON)", "Camada e canais (JSON)"),
        "sd_inside_examples": (
            "Examples: eliret test images and membrane slices",
            "Exemplos: imagens de teste eliret e fatias de membrana",
        ),
        "sd_inside_skip_intro": (
            (
                "**Skip connections.** The same image through a network with skip connections and through the same network "
                "without them: the decoder's maps side by side (the 4 strongest channels of each), coarse to fine. With skips the "
                "fine maps get the encoder's boundary detail; without them the decoder can only enlarge what the bottleneck kept."
            ),
            (
                "**Conexões de atalho (skip).** A mesma imagem numa rede com conexões de atalho e na mesma rede sem elas: os mapas "
                "do decodificador lado a lado (os 4 canais mais fortes de cada), do mais grosso ao mais fino. Com os atalhos os "
                "mapas finos recebem os detalhes de borda do codificador; sem eles o decodificador só pode ampliar o que o gargalo guardou."
            ),
        ),
        "sd_inside_pair": ("Pair", "Par"),
        "sd_inside_pair_membrane": (
            "Membrane U-Net vs no skips (membrane slice)",
            "U-Net de membranas vs sem atalhos (fatia de membrana)",
        ),
        "sd_inside_pair_eliret": ("FCN + skips vs FCN (eliret image)", "FCN + atalhos vs FCN (imagem eliret)"),
        "sd_inside_skip_button": ("Compare the decoders", "Comparar os decodificadores"),
        "sd_inside_skip_picture": ("Decoder maps, with and without skips", "Mapas do decodificador, com e sem atalhos"),
        # Pyramid
        "sd_inside_pyr_tab": ("Pyramid pooling", "Pirâmide de pooling"),
        "sd_inside_pyr_intro": (
            (
                "**PSPNet's pyramid pooling module.** The 1/8 feature map is average-pooled into 1×1, 2×2, 3×3 and 6×6 bins; each "
                "branch is convolved, enlarged back and concatenated with the features. Each branch is shown as the first principal "
                "component of its 512 channels, enlarged to the photo (the 1×1 branch is one value for the whole photo). Switch "
                "branches off (their channels set to zero in the concatenation, the rest of the same network run on it) and see "
                "which cells of the network's 1/8 class map change class: the coarse bins bring the context."
            ),
            (
                "**O módulo de pirâmide de pooling da PSPNet.** O mapa de características de 1/8 é reduzido por média a 1×1, 2×2, "
                "3×3 e 6×6 células; cada ramo passa por uma convolução, é ampliado de volta e concatenado às características. Cada "
                "ramo aparece como a primeira componente principal dos seus 512 canais, ampliada para a foto (o ramo 1×1 é um só "
                "valor para a foto inteira). Desligue ramos (seus canais zerados na concatenação, o resto da mesma rede rodando "
                "sobre ela) e veja quais células do mapa de classes de 1/8 da rede mudam de classe: as células grossas trazem o contexto."
            ),
        ),
        "sd_inside_photo": ("Photo", "Foto"),
        "sd_inside_pipeline": ("Pipeline", "Pipeline"),
        "sd_inside_off": ("Switch off these branches", "Desligar estes ramos"),
        "sd_inside_pyr_button": ("Show the pyramid", "Mostrar a pirâmide"),
        "sd_inside_branches": ("The photo and the four pooled branches", "A foto e os quatro ramos do pooling"),
        "sd_inside_maps": (
            "Class maps at 1/8: all branches · the chosen ones off · no pyramid",
            "Mapas de classes em 1/8: todos os ramos · os escolhidos desligados · sem a pirâmide",
        ),
        "sd_inside_changes": (
            "Cells of the 1/8 class map that change class",
            "Células do mapa de classes de 1/8 que mudam de classe",
        ),
        "sd_inside_col_off": ("switched off", "desligado"),
        "sd_inside_col_pixels": ("cells that change class", "células que mudam de classe"),
        "sd_inside_col_share": ("% of the cells", "% das células"),
        "sd_inside_all_four": ("all four (no pyramid)", "os quatro (sem pirâmide)"),
        "sd_inside_pyr_json": ("Pyramid (JSON)", "Pirâmide (JSON)"),
        "sd_inside_rf_intro": (
            (
                "**Dilated convolution.** The box is what one cell of the 1/8 feature map (yellow) sees of the network's input: "
                "red with the dilations of stages 4 and 5 (2 and 4), blue for the same network without them. Computed from the "
                "kernel, stride and dilation of every layer; the box may reach past the photo (the padding)."
            ),
            (
                "**Convolução dilatada.** O retângulo é o que uma célula do mapa de 1/8 (amarela) vê da entrada da rede: vermelho "
                "com as dilatações dos estágios 4 e 5 (2 e 4), azul para a mesma rede sem elas. Calculado a partir do núcleo, do "
                "passo e da dilatação de cada camada; o retângulo pode passar da foto (o preenchimento)."
            ),
        ),
        "sd_inside_rf_row": ("Cell: height position (0 top, 1 bottom)", "Célula: posição vertical (0 topo, 1 base)"),
        "sd_inside_rf_column": ("Cell: width position (0 left, 1 right)", "Célula: posição horizontal (0 esquerda, 1 direita)"),
        "sd_inside_rf_button": ("Draw the receptive field", "Desenhar o campo receptivo"),
        "sd_inside_rf_picture": ("Receptive field on the photo", "Campo receptivo na foto"),
        "sd_inside_rf_json": ("Receptive field (JSON)", "Campo receptivo (JSON)"),
        "sd_inside_pyr_examples": ("Example photos", "Fotos de exemplo"),
        # Building blocks
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
        # Model cards
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
            "Architecture (one box per layer; colour = part of the network)",
            "Arquitetura (uma caixa por camada; cor = parte da rede)",
        ),
        "sd_inside_loss": ("Training and validation loss", "Perda de treinamento e de validação"),
        "sd_inside_summary": ("Keras summary (text)", "Resumo do Keras (texto)"),
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
        "sd_inside_no_photo": ("Upload a photo or choose an example first.", "Envie uma foto ou escolha um exemplo primeiro."),
    }
)

OFF_CHOICES = [("1×1", 1), ("2×2", 2), ("3×3", 3), ("6×6", 6)]
FEATURE_KEYS = registry.keys("eliret") + registry.keys("membrane")
DEFAULT_FEATURE_MODEL = "unet"
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


def _role(role: str, language: str) -> str:
    english, portuguese = ROLE_NAMES.get(role, (role, role))
    return portuguese if language == PORTUGUESE else english


def _default_layer(layers: list[inside.LayerInfo]) -> str:
    """A first layer worth showing: the last encoder layer at half the input's resolution."""
    half = [
        info
        for info in layers
        if info.role == "encoder" and info.shape[0] * 2 == layers[0].shape[0] and info.kind != "MaxPooling2D"
    ]
    return (half[-1] if half else layers[1]).name


def layer_choices(model_key, request: gr.Request):
    """The layer dropdown of a model (its name, output size at the model's usual input, and part)."""
    language = i18n.language(request)
    with common.user_errors(language):
        layers = inside.layers_of(model_key)
    choices = [
        (f"{info.name} · {info.spatial}×{info.shape[2]} · {_role(info.role, language)}", info.name)
        for info in layers
        if info.role != "input"
    ]
    return gr.update(choices=choices, value=_default_layer(layers))


def run_feature_maps(image, model_key, layer, request: gr.Request):
    """API `/feature_maps`: (image, model key, layer name or empty for a default) → channel grid PNG, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_no_image", language)
    with common.user_errors(language):
        if not layer:
            layer = _default_layer(inside.layers_of(model_key))
        result = inside.feature_maps(image, model_key, layer)
    return common.png_file(result.picture), result.summary()


def run_skip_comparison(image, family, request: gr.Request):
    """API `/skip_comparison`: (image, "membrane" or "eliret") → decoder maps side by side, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_no_image", language)
    with common.user_errors(language):
        result = inside.skip_comparison(image, family)
    return common.png_file(result.picture), result.summary()


def run_pyramid(image, model_key, pipeline, off, request: gr.Request):
    """API `/pyramid`: (photo, PSPNet key, pipeline, branches off [1, 2, 3, 6]) → branches PNG,
    class maps PNG, table of changed pixels, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_inside_no_photo", language)
    with common.user_errors(language):
        result = inside.pyramid(image, model_key, pipeline, off or ())
    rows = []
    for change in result.changes:
        removed = change["off"]
        label = (
            i18n.text("sd_inside_all_four", language) if len(removed) == 4 else ", ".join(f"{bins}×{bins}" for bins in removed)
        )
        rows.append([label, change["cells"], round(change["fraction"] * 100, 2)])
    headers = [i18n.text(key, language) for key in ("sd_inside_col_off", "sd_inside_col_pixels", "sd_inside_col_share")]
    return (
        common.png_file(result.branches_picture),
        common.png_file(result.maps_picture),
        common.table(rows, headers),
        result.summary(),
    )


def run_receptive_field(image, model_key, pipeline, row, column, request: gr.Request):
    """API `/receptive_field`: (photo, PSPNet key, pipeline, row, column in [0, 1]) → picture, JSON."""
    language = i18n.language(request)
    if image is None:
        raise common.error("sd_inside_no_photo", language)
    with common.user_errors(language):
        result = inside.receptive_field(image, model_key, pipeline, (float(row), float(column)))
    return common.png_file(result.picture), result.summary()


def run_building_block(image, kernel, operation, padding, request: gr.Request):
    """API `/building_block`: (image table, 3×3 kernel table, operation, padding) → picture, output table."""
    language = i18n.language(request)
    with common.user_errors(language):
        picture, output = inside.building_block_picture(_table_values(image), operation, _table_values(kernel), padding)
    rounded = np.round(output, 3)
    return common.png_file(picture), {"headers": [str(index) for index in range(rounded.shape[1])], "data": rounded.tolist()}


def _table_values(value):
    """A Dataframe's value (a dict with "data", a pandas frame or rows) as rows of numbers."""
    if value is None:
        raise ValueError("The image must be a table of numbers.")
    if isinstance(value, dict):
        value = value.get("data", [])
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError("The image must be a table of numbers.") from None


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
    return text, common.png_file(card.diagram), loss_picture, card.summary_text, card.summary()


def _example_images() -> list[list[str]]:
    eliret = [[str(example.image)] for example in samples.lecture_test_images()[:3]]
    membrane = [[str(example.image)] for example in samples.membrane_labelled()[:2]]
    return eliret + membrane


def _feature_part() -> None:
    gr.Markdown(t("sd_inside_fm_intro"))
    with gr.Row(equal_height=False, elem_id="inside-fm-row"):
        with gr.Column(scale=1, min_width=300):
            image = UploadedImage(
                label=t("sd_image"),
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard"],
                height=220,
                elem_id="inside-fm-image",
            )
            model = gr.Dropdown(common.model_choices(FEATURE_KEYS), value=DEFAULT_FEATURE_MODEL, label=t("sd_model"))
            layer = gr.Dropdown([], value=None, label=t("sd_inside_layer"), allow_custom_value=True)
            button = gr.Button(t("sd_inside_fm_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            picture = gr.Image(label=t("sd_inside_fm_picture"), format="png", interactive=False)
            with gr.Accordion(t("sd_inside_fm_json"), open=False):
                summary = gr.JSON(show_label=False)
    common.examples(_example_images(), inputs=[image], label=t("sd_inside_examples"), elem_id="inside-fm-examples")
    model.change(layer_choices, model, layer, api_visibility="private", concurrency_id="inference")
    button.click(run_feature_maps, [image, model, layer], [picture, summary], api_name="feature_maps", concurrency_id="inference")

    gr.Markdown(t("sd_inside_skip_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            skip_image = UploadedImage(
                label=t("sd_image"), type="filepath", image_mode=None, sources=["upload", "clipboard"], height=220
            )
            pair = gr.Radio(
                [(t("sd_inside_pair_membrane"), "membrane"), (t("sd_inside_pair_eliret"), "eliret")],
                value="membrane",
                label=t("sd_inside_pair"),
            )
            skip_button = gr.Button(t("sd_inside_skip_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            skip_picture = gr.Image(label=t("sd_inside_skip_picture"), format="png", interactive=False)
            skip_summary = gr.JSON(visible=False)
    common.examples(_example_images()[::-1], inputs=[skip_image], label=t("sd_inside_examples"), elem_id="inside-skip-examples")
    skip_button.click(
        run_skip_comparison,
        [skip_image, pair],
        [skip_picture, skip_summary],
        api_name="skip_comparison",
        concurrency_id="inference",
    )
    return model, layer


def _pyramid_part() -> None:
    pspnet_keys = registry.keys("pspnet")
    gr.Markdown(t("sd_inside_pyr_intro"))
    with gr.Row(equal_height=False, elem_id="inside-pyramid-row"):
        with gr.Column(scale=1, min_width=300):
            photo = UploadedImage(
                label=t("sd_inside_photo"),
                type="filepath",
                image_mode=None,
                sources=["upload", "webcam", "clipboard"],
                height=240,
                elem_id="inside-pyramid-photo",
            )
            model = gr.Dropdown(common.model_choices(pspnet_keys), value=pspnet_keys[0], label=t("sd_model"))
            pipelines = list(registry.get(pspnet_keys[0]).pipeline_names)
            pipeline = gr.Radio(pipelines, value=pipelines[0], label=t("sd_inside_pipeline"))
            off = gr.CheckboxGroup(OFF_CHOICES, value=[1], label=t("sd_inside_off"))
            button = gr.Button(t("sd_inside_pyr_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            branches = gr.Image(label=t("sd_inside_branches"), format="png", interactive=False)
            maps = gr.Image(label=t("sd_inside_maps"), format="png", interactive=False)
            table = gr.Dataframe(headers=["off", "pixels", "%"], label=t("sd_inside_changes"), interactive=False, visible=False)
            with gr.Accordion(t("sd_inside_pyr_json"), open=False):
                summary = gr.JSON(show_label=False)
    photos = samples.photos()
    if photos:
        common.examples(
            [[str(item.image)] for item in photos[:6]],
            inputs=[photo],
            label=t("sd_inside_pyr_examples"),
            elem_id="inside-pyramid-examples",
        )
    event = button.click(
        run_pyramid,
        [photo, model, pipeline, off],
        [branches, maps, table, summary],
        api_name="pyramid",
        concurrency_id="inference",
    )
    common.show_after(event, table)

    gr.Markdown(t("sd_inside_rf_intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            row = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("sd_inside_rf_row"))
            column = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("sd_inside_rf_column"))
            rf_button = gr.Button(t("sd_inside_rf_button"), variant="primary")
        with gr.Column(scale=2, min_width=300):
            rf_picture = gr.Image(label=t("sd_inside_rf_picture"), format="png", interactive=False)
            with gr.Accordion(t("sd_inside_rf_json"), open=False):
                rf_summary = gr.JSON(show_label=False)
    rf_button.click(
        run_receptive_field,
        [photo, model, pipeline, row, column],
        [rf_picture, rf_summary],
        api_name="receptive_field",
        concurrency_id="inference",
    )


def _blocks_part() -> None:
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


def _cards_part() -> None:
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
        summary_text = gr.Code(language=None, interactive=False)
    summary = gr.JSON(visible=False)
    button.click(
        run_model_card, model, [card, diagram, loss, summary_text, summary], api_name="model_card", concurrency_id="inference"
    )


def build() -> None:
    """The tab: four parts, each in its own sub-tab. The layer list is filled when the tab is opened
    (it needs TensorFlow, which the app loads after the page is up)."""
    with gr.Tab(t(TITLE_KEY), id="inside") as tab:
        gr.Markdown(t(INTRO_KEY))
        with gr.Tabs():
            with gr.Tab(t("sd_inside_fm_tab"), id="inside_features"):
                model, layer = _feature_part()
            with gr.Tab(t("sd_inside_pyr_tab"), id="inside_pyramid"):
                _pyramid_part()
            with gr.Tab(t("sd_inside_blocks_tab"), id="inside_blocks"):
                _blocks_part()
            with gr.Tab(t("sd_inside_cards_tab"), id="inside_cards"):
                _cards_part()
    tab.select(layer_choices, model, layer, api_visibility="private", concurrency_id="inference")
