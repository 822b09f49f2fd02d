"""Model cards: parameters, multiply-adds, measured time, training figures and a diagram of the
layers (the "Model cards" view).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from contextlib import redirect_stdout
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from segdemo import registry, render, runtime, settings
from segdemo.inside.layers import PASS_THROUGH, PYRAMID_CONCAT, ROLES, LayerInfo, default_input_shape, layer_list

ROLE_COLOURS = {
    "input": (200, 200, 200),
    "encoder": (120, 170, 230),
    "bottleneck": (190, 140, 220),
    "decoder": (240, 170, 90),
    "skip": (110, 200, 120),
    "pyramid": (230, 110, 120),
    "border": (240, 220, 110),
}
# Where each family's networks appear in the lecture (PSI3472), for the model cards.
LECTURE_FIGURES = {"eliret_fcn": "4–6", "eliret_unet": "9–11", "membrane": "12–14", "pspnet": "15–16"}


def multiply_adds(model, input_shape: tuple[int, int, int] | None = None) -> int:
    """Multiply-adds of the convolutions and dense layers at `input_shape` (None: the model's
    own size), counted from the layers' configurations: a convolution does k_h·k_w·C_in/groups
    per output value, a transposed convolution k_h·k_w·C_out per input value. Batch
    normalisation, activations, pooling and resizing are not counted (they are cheap)."""
    import keras

    infos = layer_list(model, input_shape)
    shapes = {info.name: info.shape for info in infos}
    total = 0
    for info, layer in zip(infos, model.layers):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            rows, columns, channels = shapes[info.inputs[0]]
            total += rows * columns * channels * int(np.prod(layer.kernel_size)) * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            rows, columns, channels = info.shape
            total += rows * columns * channels * int(np.prod(layer.kernel_size)) * shapes[info.inputs[0]][-1] // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(info.shape)) * shapes[info.inputs[0]][-1]
    return int(total)


@dataclass(frozen=True)
class ModelCard:
    """What a student may want to know about one model.

    Attributes:
        key, title, family, description: from the registry.
        input_shape: (H, W, C) the figures refer to.
        parameters: the model's parameter count.
        multiply_adds: at `input_shape`.
        seconds: measured CPU time of one forward pass here (median of a few), None when the
            weights are not on this machine.
        training: the training figures from `weights/KEY.metrics.json` (no loss history), or {}.
        lecture_figures: the lecture's figures that show this kind of network.
        layers: the layer list; summary: Keras' text summary; diagram: a picture of the layers.
        weights_missing: why `seconds` is None, when it is.
    """

    key: str
    title: str
    family: str
    description: str
    input_shape: tuple[int, int, int]
    parameters: int
    multiply_adds: int
    seconds: float | None
    training: dict
    lecture_figures: str
    layers: list[LayerInfo]
    summary_text: str
    diagram: np.ndarray
    weights_missing: str = ""

    def summary(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "input": list(self.input_shape),
            "parameters": self.parameters,
            "multiply_adds": self.multiply_adds,
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "training": self.training,
            "lecture_figures": self.lecture_figures,
            "layers": len(self.layers),
        }


def lecture_figures(spec: registry.ModelSpec) -> str:
    if spec.family == "eliret":
        return LECTURE_FIGURES["eliret_fcn" if spec.architecture == "fcn" else "eliret_unet"]
    return LECTURE_FIGURES[spec.family]


def training_figures(key: str) -> dict:
    """The training figures of `weights/KEY.metrics.json` (first weights folder that has it), without the loss history."""
    for folder in settings.weights_dirs():
        path = folder / f"{key}.metrics.json"
        if path.is_file():
            try:
                figures = json.loads(path.read_text())
            except (OSError, ValueError):
                return {}
            return {name: value for name, value in figures.items() if name != "history"}
    return {}


def _diagram_nodes(infos: list[LayerInfo]) -> tuple[list[tuple[str, tuple[int, ...], str, int]], dict[str, int]]:
    """(label, shape, role, layers folded in) per box of the diagram, and each layer's box:
    pass-through layers join the box before them; PSPNet's residual units one box per stage."""
    nodes: list[list] = []
    box_of: dict[str, int] = {}

    branch_boxes: dict[str, int] = {}

    def join(info: LayerInfo, index: int = -1) -> None:
        index = index % len(nodes)
        nodes[index][1], nodes[index][3] = info.shape, nodes[index][3] + 1
        box_of[info.name] = index

    def start(label: str, info: LayerInfo, units: int = 0) -> None:
        nodes.append([label, info.shape, info.role, 1, units])
        box_of[info.name] = len(nodes) - 1

    for info in infos:
        stage = re.match(r"^(conv[2-5])_(\d+)", info.name)
        if stage and not info.name.startswith(("conv5_3_pool", "conv5_4", PYRAMID_CONCAT)):
            label = f"{stage.group(1)}_x"
            if nodes and nodes[-1][0].startswith(label):
                join(info)
                units = max(int(stage.group(2)), int(nodes[-1][4]))
                nodes[-1][0], nodes[-1][4] = f"{label} ({units} residual units)", units
            else:
                start(f"{label} (1 residual unit)", info, 1)
        elif info.kind in PASS_THROUGH and nodes:
            join(info)
        elif info.name.startswith("conv1_"):
            join(info) if nodes and nodes[-1][0].startswith("stem") else start("stem conv1_1–conv1_3", info)
        elif info.name.startswith("conv5_3_pool"):
            bins = re.match(r"conv5_3_pool(\d+)", info.name).group(1)
            # The branches' layers come interleaved (every pooling, then every convolution, ...).
            if bins in branch_boxes:
                join(info, branch_boxes[bins])
            else:
                start(f"pool {bins}×{bins} → conv → resize", info)
                branch_boxes[bins] = len(nodes) - 1
        else:
            start(info.name if info.kind != "InputLayer" else "input", info)
    return [(label, tuple(shape), role, count) for label, shape, role, count, _ in nodes], box_of


TOP = 56
"""The diagram's first box starts this far down: the page shows the picture's label over its top-left
corner, about 26 px high whatever the picture's scale (a 600-px picture is drawn 326 px wide on a phone)."""


ENGLISH_WORDS = {"skip": "skip connection", "pyramid": "pyramid pooling", "border": "mirrored border"}
"""The legend's English names where a role's key is not the word (as the layer list writes them)."""


def _shown(text: str, names: dict[str, str]) -> str:
    """`text` with the diagram's own words replaced by `names`' (layer names stay as Keras has them)."""
    if text in names:
        return names[text]
    for words in ("residual units", "residual unit"):
        if words in text and words in names:
            return text.replace(words, names[words])
    return text


def diagram(infos: list[LayerInfo], names: dict[str, str] | None = None) -> np.ndarray:
    """The network as a column of boxes, one per layer (pass-through layers folded in, PSPNet's
    residual units one box per stage): each box's width grows with the map's side, its colour says
    encoder / bottleneck / decoder / skip / pyramid, its text gives the output shape, and a green
    line on the left joins each skip connection to the encoder map it brings over.

    Args:
        names: the words the picture writes (the roles of the legend, "input", "residual unit",
            "residual units") in the page's language; layer names are written as they are.
    """
    names = {**ENGLISH_WORDS, **(names or {})}
    nodes, box_of = _diagram_nodes(infos)
    box_height, gap, width, margin = 30, 6, 600, 48
    largest = max(max(shape[0], shape[1]) for _, shape, _, _ in nodes)
    # The legend goes below the boxes, clear of the picture's label: the parts this network has,
    # in as many rows as the page's language needs.
    present = {role for _, _, role, _ in nodes}
    font = render.font(12)
    legend, left, row = [], 8, 0
    for role in (role for role in ROLES if role in present):
        text = _shown(role, names)
        item_width = 24 + int(font.getlength(text))
        if left > 8 and left + item_width > width:
            left, row = 8, row + 1
        legend.append((role, text, left, row))
        left += item_width
    legend_top = TOP + len(nodes) * (box_height + gap) + 4
    canvas = Image.new("RGB", (width, legend_top + 22 * (row + 1)), "white")
    draw = ImageDraw.Draw(canvas)
    for role, text, left, row in legend:
        top = legend_top + 22 * row
        draw.rectangle([left, top, left + 14, top + 14], fill=ROLE_COLOURS[role], outline="black")
        draw.text((left + 18, top), text, fill="black", font=font)
    lefts = []
    for index, (label, shape, role, _) in enumerate(nodes):
        top = TOP + index * (box_height + gap)
        side = max(shape[0], shape[1])
        box_width = 150 + int(220 * np.log2(max(side, 1)) / max(np.log2(max(largest, 2)), 1))
        left = margin + (width - margin - 190 - box_width) // 2
        lefts.append(left)
        draw.rectangle(
            [left, top, left + box_width, top + box_height], fill=ROLE_COLOURS.get(role, (220, 220, 220)), outline="black"
        )
        draw.text((left + 6, top + 8), _shown(label, names), fill="black", font=render.font(13))
        draw.text((width - 180, top + 8), "×".join(str(value) for value in shape), fill="black", font=render.font(13))
    lane = 0
    for info in infos:
        if info.role != "skip":
            continue
        target = box_of[info.name]
        for source in info.inputs:
            origin = box_of.get(source)
            if origin is None or origin >= target - 1:
                continue
            x = 8 + 8 * (lane % 5)
            lane += 1
            y0 = TOP + origin * (box_height + gap) + box_height // 2
            y1 = TOP + target * (box_height + gap) + box_height // 2
            draw.line(
                [(lefts[origin], y0), (x, y0), (x, y1), (lefts[target], y1)], fill=ROLE_COLOURS["skip"][:2] + (60,), width=3
            )
            draw.polygon([(lefts[target], y1), (lefts[target] - 8, y1 - 5), (lefts[target] - 8, y1 + 5)], fill=(40, 140, 60))
    return np.asarray(canvas)


def _text_summary(model) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        model.summary(line_length=110, print_fn=lambda line, line_break=True: buffer.write(line + "\n"))
    return buffer.getvalue()


def _timing(loaded, input_shape: tuple[int, int, int], repeats: int) -> float:
    batch = np.zeros((1, *input_shape), np.float32)
    loaded(batch)  # traces once
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loaded(batch)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


_card_lock = threading.Lock()
_cards: dict[str, ModelCard] = {}


def model_card(key: str) -> ModelCard:
    """The model card of registry model `key`.

    Counts come from the architecture built from the registry (so a PSPNet whose weights are
    missing still gets them); the time from the loaded model when its weights are here (median
    of 5 runs after a warm-up, one for PSPNets). Cards are computed once per process.
    """
    spec = registry.get(key)
    with _card_lock:
        if key in _cards:
            return _cards[key]
    from segdemo import architectures, weights

    runtime.import_tensorflow()
    input_shape = default_input_shape(spec)
    seconds, missing = None, ""
    model = None
    # Only weights already on this machine: a card never starts a download.
    if weights.available(spec):
        try:
            loaded = runtime.get(key)
            model = loaded.model
            seconds = _timing(loaded, input_shape, 1 if spec.family == "pspnet" else 5)
        except weights.WeightsMissingError as failure:
            missing = str(failure)
    else:
        missing = f"the weights file {spec.weights_file} is not on this server"
    if model is None:
        model = architectures.build(spec.architecture, **dict(spec.arch_kwargs), **dict(spec.default_pipeline.network_options))
    infos = layer_list(model, input_shape)
    card = ModelCard(
        key=key,
        title=spec.title,
        family=spec.family,
        description=spec.description,
        input_shape=input_shape,
        parameters=int(model.count_params()),
        multiply_adds=multiply_adds(model, input_shape),
        seconds=seconds,
        training=training_figures(key),
        lecture_figures=lecture_figures(spec),
        layers=infos,
        summary_text=_text_summary(model),
        diagram=diagram(infos),
        weights_missing=missing,
    )
    with _card_lock:
        _cards[key] = card
    return card
