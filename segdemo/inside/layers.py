"""The layer list and feature maps: every layer of a network with its output shape and its part
(encoder, bottleneck, decoder, skip, pyramid), and one layer's channels for one image as a grid
of small pictures (the "Feature maps" view).

The layer list is also what the other views stand on: the skip comparison picks its decoder
layers from it, the model card draws it, and the pyramid and receptive-field views walk the
same graph (`inbound`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, registry, render, runtime
from segdemo.inside.pictures import colourise

ROLES = ("input", "encoder", "bottleneck", "decoder", "skip", "pyramid", "border")
BORDER_KINDS = ("MirrorBorder", "Cropping2D")
"""The membrane networks' mirrored border and its crop (the U-Net paper's overlap-tile)."""
MAX_CHANNELS = 16
PYRAMID_CONCAT = "conv5_3_concat"
"""PSPNet's concatenation of the features and the four pooled branches: how `layer_list` recognises a PSPNet."""
# Layers that only pass their input on, or rescale it channel by channel: folded into the
# layer before them in the diagrams, and seen through by the receptive-field walk.
PASS_THROUGH = ("Dropout", "BatchNormalization", "Activation", "ReLU", "Softmax", "ZeroPadding2D")


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a Keras model.

    Attributes:
        index: position in `model.layers` (the network's order).
        name: the layer's name (what `runtime.intermediate` takes).
        kind: the Keras class name, e.g. "Conv2D".
        shape: the output's (height, width, channels) at the input size asked for.
        role: "input", "encoder", "bottleneck", "decoder", "skip" (a concatenation of an
            encoder map with a decoder map), "pyramid" (PSPNet's pyramid pooling module) or
            "border" (the membrane networks' mirrored border and the crop that removes it).
        inputs: names of the layers that feed this one.
    """

    index: int
    name: str
    kind: str
    shape: tuple[int, ...]
    role: str
    inputs: tuple[str, ...] = ()

    @property
    def spatial(self) -> str:
        """ "16×16" for a map of 16 rows and 16 columns."""
        return "×".join(str(side) for side in self.shape[:2])

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "role": self.role,
            "inputs": list(self.inputs),
        }


def inbound(layer) -> tuple[str, ...]:
    """The names of the layers that feed `layer`."""
    names = []
    for node in layer._inbound_nodes:
        for tensor in node.input_tensors:
            names.append(tensor._keras_history.operation.name)
    return tuple(names)


def _output_shapes(model, input_shape: tuple[int, ...] | None) -> list[tuple[int, ...]]:
    """Each layer's output shape (without the batch axis) at `input_shape` (H, W, C), computed
    symbolically from the model's own graph (nothing runs)."""
    import keras

    layers = model.layers
    if input_shape is None:
        return [tuple(layer.output.shape[1:]) for layer in layers]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    specs = probe.compute_output_spec(keras.KerasTensor((1, *input_shape)))
    return [tuple(int(side) for side in spec.shape[1:]) for spec in specs]


def layer_list(model, input_shape: tuple[int, int, int] | None = None) -> list[LayerInfo]:
    """The layers of `model`, in order, with output shapes and roles.

    Roles come from the shapes: the layers before the first one at the smallest resolution are
    the encoder, those up to the last one at it the bottleneck, the rest the decoder; a
    Concatenate that joins maps from both sides is a skip connection. A PSPNet (recognised by
    its `conv5_3_concat`) is marked by its own structure: the dilated ResNet is the encoder,
    `conv5_3_pool*` and the concatenation the pyramid, the layers after it the decoder.

    Args:
        model: a Keras functional model.
        input_shape: (height, width, channels) of the input; None for the model's own (fixed) size.

    Raises:
        ValueError: when a fully convolutional model is asked for its shapes without an input size.
    """
    if input_shape is None and any(side is None for side in model.inputs[0].shape[1:3]):
        raise ValueError(f"{model.name} runs at any size: give the input's (height, width, channels).")
    shapes = _output_shapes(model, input_shape)
    names = [layer.name for layer in model.layers]
    kinds = [type(layer).__name__ for layer in model.layers]
    roles = ["input" if kind == "InputLayer" else "encoder" for kind in kinds]
    if PYRAMID_CONCAT in names:
        concat = names.index(PYRAMID_CONCAT)
        for index, name in enumerate(names):
            if name.startswith("conv5_3_pool") or index == concat:
                roles[index] = "pyramid"
            elif index > concat:
                roles[index] = "decoder"
    else:
        for index, kind in enumerate(kinds):
            if kind in BORDER_KINDS:
                roles[index] = "border"
        areas = [shape[0] * shape[1] if roles[index] not in ("input", "border") else None for index, shape in enumerate(shapes)]
        smallest = min(area for area in areas if area is not None)
        at_smallest = [index for index, area in enumerate(areas) if area == smallest]
        for index in range(len(names)):
            if roles[index] in ("input", "border"):
                continue
            if at_smallest[0] <= index <= at_smallest[-1]:
                roles[index] = "bottleneck"
            elif index > at_smallest[-1]:
                roles[index] = "decoder"
        for index, kind in enumerate(kinds):
            sources = inbound(model.layers[index])
            if kind == "Concatenate" and any(roles[names.index(source)] == "encoder" for source in sources):
                roles[index] = "skip"
    return [
        LayerInfo(index, name, kind, tuple(shape), role, inbound(layer))
        for index, (layer, name, kind, shape, role) in enumerate(zip(model.layers, names, kinds, shapes, roles))
    ]


def default_input_shape(spec: registry.ModelSpec) -> tuple[int, int, int]:
    """The input a model's figures refer to: its fixed size, or the 32×32 it was trained at."""
    height, width = spec.input_size or (32, 32)
    return (height, width, spec.channels)


def layers_of(key: str, input_shape: tuple[int, int, int] | None = None) -> list[LayerInfo]:
    """The layer list of a registry model (loaded through the runtime) at `input_shape`
    (None: `default_input_shape`)."""
    spec = registry.get(key)
    loaded = runtime.get(key)
    return layer_list(loaded.model, input_shape or default_input_shape(spec))


def channel_grid(
    maps: np.ndarray, title: str, max_channels: int = MAX_CHANNELS, cell: int = 112
) -> tuple[np.ndarray, list[int], list[float]]:
    """Channels of one feature map as a grid of small images, the strongest first.

    Each channel is scaled to its own range; its number and mean activation are written under it,
    and the title (the layer's name and spatial size) above the grid. Small maps are enlarged
    with nearest neighbours, so a 4×4 map shows as 16 blocks.

    Args:
        maps: H×W×C activations of one image.
        title: written above the grid.
        max_channels: how many channels at most (those with the largest mean activation).
        cell: side of each channel's picture in pixels.

    Returns:
        The picture (uint8 RGB), the channels shown and their mean activations.
    """
    if maps.ndim != 3:
        raise ValueError(f"A feature map has rows, columns and channels; got shape {maps.shape}.")
    strengths = maps.reshape(-1, maps.shape[-1]).mean(axis=0)
    order = np.argsort(-strengths, kind="stable")[: max(1, int(max_channels))]
    columns = min(4, len(order))
    rows = -(-len(order) // columns)
    gap, caption = 6, 18
    header = 30
    canvas = Image.new("RGB", (gap + columns * (cell + gap), header + rows * (cell + caption + gap) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((gap, 6), title, fill="black", font=render.font(16))
    for position, channel in enumerate(order):
        row, column = divmod(position, columns)
        left, top = gap + column * (cell + gap), header + row * (cell + caption + gap)
        canvas.paste(render.panel(colourise(maps[..., channel]), cell), (left, top))
        draw.text((left, top + cell + 1), f"#{channel}  mean {strengths[channel]:.3g}", fill="black", font=render.font(12))
    return np.asarray(canvas), [int(channel) for channel in order], [float(strengths[channel]) for channel in order]


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's activations for one image.

    Attributes:
        model: the registry key.
        layer: the layer's `LayerInfo` (shape at this image's network input).
        maps: H×W×C float32 activations.
        picture: the channel grid (uint8 RGB).
        channels: the channels shown, strongest first; strengths: their mean activations.
        seconds: time taken.
    """

    model: str
    layer: LayerInfo
    maps: np.ndarray
    picture: np.ndarray
    channels: list[int]
    strengths: list[float]
    seconds: float

    def summary(self) -> dict:
        return {
            "model": self.model,
            "layer": self.layer.as_dict(),
            "channels_shown": self.channels,
            "mean_activation": [round(value, 6) for value in self.strengths],
            "seconds": round(self.seconds, 3),
        }


def _binary_spec(key: str) -> registry.ModelSpec:
    spec = registry.get(key)
    if spec.family not in ("eliret", "membrane"):
        raise ValueError(f"Feature maps are shown for the eliret and membrane models; {key} is a {spec.family} model.")
    return spec


def feature_maps(image, key: str, layer: str, max_channels: int = MAX_CHANNELS) -> FeatureMaps:
    """The activations of `layer` of model `key` for `image`, through the model's own pipeline.

    Args:
        image: a path, PIL image or array (see `segdemo.images`).
        key: an eliret or membrane model.
        layer: a layer name from `layers_of(key)`.
        max_channels: how many channels the picture shows.

    Raises:
        ValueError: bad image, unknown model or layer, a PSPNet, or missing weights.
    """
    spec = _binary_spec(key)
    started = time.perf_counter()
    pixels = images.load(image)
    prepared = spec.default_pipeline.preprocess(pixels)
    loaded = runtime.get(key)
    infos = {info.name: info for info in layer_list(loaded.model, prepared.batch.shape[1:])}
    if layer not in infos or infos[layer].role == "input":
        raise ValueError(
            f"{key} has no layer named {layer!r}; choose one of {', '.join(name for name, info in infos.items() if info.role != 'input')}."
        )
    (maps,) = loaded.intermediate(prepared.batch, [layer])
    info = infos[layer]
    title = f"{layer}: {info.spatial} × {info.shape[2]} channels ({info.role})"
    picture, channels, strengths = channel_grid(maps[0], title, max_channels)
    return FeatureMaps(key, info, maps[0], picture, channels, strengths, time.perf_counter() - started)
