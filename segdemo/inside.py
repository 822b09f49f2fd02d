"""Looking inside the networks: layer lists, feature maps, skip connections, the pyramid pooling
module, receptive fields, the building blocks of the lecture and model cards.

Everything here runs the real models: images go through the model's own pipeline
(`spec.pipeline().preprocess`), then through `runtime.get(key).intermediate(...)`, the same
network (same layers, same weights) that `predict()` runs. Nothing here imports Gradio.

- `layer_list`: every layer with its output shape at a given input and its part of the network
  (encoder, bottleneck, decoder, skip; for PSPNet also pyramid).
- `feature_maps`: one layer's channels as a grid of small images (the strongest 16 by mean
  activation, or all when fewer), with the layer's spatial size written on it.
- `skip_comparison`: the decoder of a network with skip connections beside the same network
  without them, on one image.
- `pyramid`: PSPNet's four pooled branches as pictures, and the class map with branches switched
  off (their part of the concatenation `conv5_3_concat` zeroed, the rest of the network run on it).
- `receptive_field`: the input pixels one cell of PSPNet's 1/8 feature map sees, from the layers'
  kernels, strides and dilations, with and without the dilations of stages 4 and 5.
- `building_block`: Conv2D, UpSampling2D, Conv2DTranspose, MaxPooling2D and a dilated convolution
  on a tiny image, computed by the real Keras layers with the weights set by hand.
- `model_card`: parameters, multiply-adds, measured time, training figures and a diagram.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import OrderedDict
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, registry, render, runtime, settings
from segdemo.output_cache import image_digest

ROLES = ("input", "encoder", "bottleneck", "decoder", "skip", "pyramid")
ROLE_COLOURS = {
    "input": (200, 200, 200),
    "encoder": (120, 170, 230),
    "bottleneck": (190, 140, 220),
    "decoder": (240, 170, 90),
    "skip": (110, 200, 120),
    "pyramid": (230, 110, 120),
}
MAX_CHANNELS = 16
PYRAMID_CONCAT = "conv5_3_concat"
PYRAMID_FEATURES = "conv5_3_relu"  # the dilated ResNet's 1/8 feature map, before the pyramid
SKIP_PAIRS = {"membrane": ("membrane_unet", "membrane_noskip"), "eliret": ("fcn_skip", "fcn")}
"""Per family: (the network with skip connections, the same network without them)."""
# Where each family's networks appear in the lecture (PSI3472), for the model cards.
LECTURE_FIGURES = {"eliret_fcn": "4–6", "eliret_unet": "9–11", "membrane": "12–14", "pspnet": "15–16"}
# Layers that only pass their input on, or rescale it channel by channel: folded into the
# layer before them in the diagrams.
_PASS_THROUGH = ("Dropout", "BatchNormalization", "Activation", "ReLU", "Softmax", "ZeroPadding2D")


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a Keras model.

    Attributes:
        index: position in `model.layers` (the network's order).
        name: the layer's name (what `runtime.intermediate` takes).
        kind: the Keras class name, e.g. "Conv2D".
        shape: the output's (height, width, channels) at the input size asked for.
        role: "input", "encoder", "bottleneck", "decoder", "skip" (a concatenation of an
            encoder map with a decoder map) or "pyramid" (PSPNet's pyramid pooling module).
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


def _inbound(layer) -> tuple[str, ...]:
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
        areas = [shape[0] * shape[1] if kinds[index] != "InputLayer" else None for index, shape in enumerate(shapes)]
        smallest = min(area for area in areas if area is not None)
        at_smallest = [index for index, area in enumerate(areas) if area == smallest]
        for index in range(len(names)):
            if roles[index] == "input":
                continue
            if at_smallest[0] <= index <= at_smallest[-1]:
                roles[index] = "bottleneck"
            elif index > at_smallest[-1]:
                roles[index] = "decoder"
        for index, kind in enumerate(kinds):
            sources = _inbound(model.layers[index])
            if kind == "Concatenate" and any(roles[names.index(source)] == "encoder" for source in sources):
                roles[index] = "skip"
    return [
        LayerInfo(index, name, kind, tuple(shape), role, _inbound(layer))
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


# --------------------------------------------------------------------------- pictures


def colourise(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """An H×W float map as an RGB image (viridis), scaled from `low` to `high` (default: its own range)."""
    low = float(np.min(values)) if low is None else low
    high = float(np.max(values)) if high is None else high
    scaled = (
        np.zeros(values.shape, np.uint8)
        if high - low < 1e-12
        else np.clip((values - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    )
    return cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS)[..., ::-1].copy()


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


def _decoder_levels(infos: list[LayerInfo], other: set[str]) -> list[LayerInfo]:
    """The layers compared: the bottleneck's last map, the last many-channel decoder map at each
    resolution, and the output; only layers both networks have (names in `other`)."""
    levels: OrderedDict[tuple[int, int], LayerInfo] = OrderedDict()
    for info in infos:
        many = info.shape[-1] > 1
        if info.role in ("decoder", "bottleneck") and info.name in other and many and info.kind not in ("Concatenate", "Dropout"):
            levels[info.shape[:2]] = info
    chosen = list(levels.values())
    if infos[-1].name in other and infos[-1] not in chosen:
        chosen.append(infos[-1])
    return chosen


def _mosaic(maps: np.ndarray, count: int = 4) -> np.ndarray:
    """The `count` strongest channels of H×W×C in a 2×2 mosaic, each scaled to its own range."""
    order = np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0), kind="stable")[:count]
    tiles = [colourise(maps[..., channel]) for channel in order]
    while len(tiles) < 4:
        tiles.append(np.full_like(tiles[0], 255))
    # Enlarged first, so the white line between the four stays thin at any map size.
    side = max(64, maps.shape[0])
    tiles = [np.asarray(render.panel(tile, side)) for tile in tiles]
    line = np.full((side, max(1, side // 40), 3), 255, np.uint8)
    top, bottom = np.hstack([tiles[0], line, tiles[1]]), np.hstack([tiles[2], line, tiles[3]])
    return np.vstack([top, np.full((line.shape[1], top.shape[1], 3), 255, np.uint8), bottom])


@dataclass(frozen=True)
class SkipComparison:
    """The decoders of a network with skips and the same without, on one image.

    Attributes:
        models: (with skips, without skips) registry keys.
        layers: the decoder layers compared, coarse to fine.
        picture: rows = layers, columns = models (uint8 RGB).
        detail: per layer and model, the mean absolute horizontal+vertical difference of
            neighbouring pixels of the strongest channel, scaled by its range (how much fine
            detail the map carries).
    """

    models: tuple[str, str]
    layers: list[LayerInfo]
    picture: np.ndarray
    detail: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "models": list(self.models),
            "layers": [info.as_dict() for info in self.layers],
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


def _detail(maps: np.ndarray) -> float:
    strongest = maps[..., int(np.argmax(maps.reshape(-1, maps.shape[-1]).mean(axis=0)))]
    spread = float(strongest.max() - strongest.min())
    if spread < 1e-12:
        return 0.0
    return float((np.abs(np.diff(strongest, axis=0)).mean() + np.abs(np.diff(strongest, axis=1)).mean()) / spread)


def skip_comparison(image, family: str) -> SkipComparison:
    """The decoder of the skip model beside the no-skip model of `family` on `image`.

    Args:
        image: a path, PIL image or array.
        family: "membrane" (membrane_unet vs membrane_noskip) or "eliret" (fcn vs fcn_skip).

    Raises:
        ValueError: unknown family, bad image, missing weights.
    """
    if family not in SKIP_PAIRS:
        raise ValueError(f"Unknown pair {family!r}; choose one of {', '.join(SKIP_PAIRS)}.")
    started = time.perf_counter()
    with_skips, without = SKIP_PAIRS[family]
    pixels = images.load(image)
    prepared = registry.get(with_skips).default_pipeline.preprocess(pixels)
    loaded = {key: runtime.get(key) for key in (with_skips, without)}
    infos = {key: layer_list(model.model, prepared.batch.shape[1:]) for key, model in loaded.items()}
    levels = _decoder_levels(infos[with_skips], {info.name for info in infos[without]})
    names = [info.name for info in levels]
    outputs = {
        key: model.intermediate(registry.get(key).default_pipeline.preprocess(pixels).batch, names)
        for key, model in loaded.items()
    }
    cell, label_width, gap = 150, 190, 8
    width = label_width + 2 * (cell + gap)
    header = Image.new("RGB", (width, 44), "white")
    draw = ImageDraw.Draw(header)
    for column, (key, note) in enumerate(((with_skips, "with skips"), (without, "without skips"))):
        draw.text((label_width + column * (cell + gap), 4), f"{key}\n{note}", fill="black", font=render.font(13))
    rows = [np.asarray(header)]
    first = Image.new("RGB", (width, cell + gap), "white")
    ImageDraw.Draw(first).text((6, 6), "input\n(4 strongest channels\nper map below)", fill="black", font=render.font(13))
    for column in range(2):
        first.paste(render.panel(images.to_grey(pixels), cell), (label_width + column * (cell + gap), 4))
    rows.append(np.asarray(first))
    detail: dict[str, dict[str, float]] = {}
    for index, info in enumerate(levels):
        row = Image.new("RGB", (width, cell + gap), "white")
        ImageDraw.Draw(row).text(
            (6, 6), f"{info.name}\n{info.spatial} × {info.shape[2]}\n{info.role}", fill="black", font=render.font(13)
        )
        detail[info.name] = {}
        for column, key in enumerate((with_skips, without)):
            maps = outputs[key][index][0]
            tile = _mosaic(maps) if maps.shape[-1] > 1 else colourise(maps[..., 0])
            row.paste(render.panel(tile, cell), (label_width + column * (cell + gap), 4))
            detail[info.name][key] = round(_detail(maps), 4)
        rows.append(np.asarray(row))
    picture = np.vstack(rows)
    return SkipComparison((with_skips, without), levels, picture, detail, time.perf_counter() - started)


# --------------------------------------------------------------------------- pyramid pooling


def _pyramid_branch_layers(model) -> dict[int, str]:
    """{bins: layer name} of the resized branches, from the concatenation's own inputs."""
    branches = {}
    for source in _inbound(model.get_layer(PYRAMID_CONCAT)):
        match = re.fullmatch(r"conv5_3_pool(\d+)_interp", source)
        if match:
            branches[int(match.group(1))] = source
    return branches


def _chain_between(model, first: str, last: str) -> list:
    """The layers after `first` up to and including `last`, which must form a simple chain."""
    followers: dict[str, list] = {}
    for layer in model.layers:
        for source in _inbound(layer):
            followers.setdefault(source, []).append(layer)
    chain, current = [], first
    while current != last:
        after = followers.get(current, [])
        if len(after) != 1:
            raise ValueError(f"{model.name}: the layers after {first} are not a simple chain")
        chain.append(after[0])
        current = after[0].name
    return chain


class PyramidProbe:
    """Runs a PSPNet's head on its concatenation with some pyramid branches switched off.

    The first layer after `conv5_3_concat` is the 3×3 convolution `conv5_4` (no bias), which is
    linear: its output is the sum of what each part of the concatenation (the features and each
    branch's 512 channels) contributes. Those parts are computed once per image with the layer's
    own kernel, split by input channels; any set of branches switched off (their channels zeroed)
    is then the sum of the others' parts, passed through the network's own layers after `conv5_4`
    (batch normalisation, ReLU, dropout, `conv6`). `head_reference` runs the unsplit layers on a
    zeroed concatenation, for checking.
    """

    def __init__(self, model, raw_output_layer: str = "conv6") -> None:
        import keras

        self.model = model
        self.branches = _pyramid_branch_layers(model)
        if sorted(self.branches) != [1, 2, 3, 6]:
            raise ValueError(f"{model.name} is not a PSPNet: its {PYRAMID_CONCAT} does not join pooled branches 1, 2, 3 and 6.")
        self.head = _chain_between(model, PYRAMID_CONCAT, raw_output_layer)
        self.conv = self.head[0]
        if (
            not isinstance(self.conv, keras.layers.Conv2D)
            or self.conv.use_bias
            or self.conv.strides != (1, 1)
            or self.conv.padding != "same"
        ):
            raise ValueError(f"{model.name}: the layer after {PYRAMID_CONCAT} is not a bias-free stride-1 'same' convolution")
        # Channel ranges of the concatenation's inputs, in its order.
        self.parts: OrderedDict[str, tuple[int, int]] = OrderedDict()
        start = 0
        for source in _inbound(model.get_layer(PYRAMID_CONCAT)):
            channels = int(model.get_layer(source).output.shape[-1])
            self.parts[source] = (start, start + channels)
            start += channels
        self._outputs = [PYRAMID_CONCAT, *self.branches.values()]

    def contributions(self, concat: np.ndarray) -> dict[str, np.ndarray]:
        """Each concatenated part's share of `conv5_4`'s output, from the layer's own kernel."""
        from keras import ops

        kernel = self.conv.kernel
        shares = {}
        for source, (start, stop) in self.parts.items():
            shares[source] = np.asarray(
                ops.conv(
                    concat[..., start:stop],
                    kernel[:, :, start:stop, :],
                    strides=1,
                    padding="same",
                    dilation_rate=self.conv.dilation_rate,
                )
            )
        return shares

    def head_from(self, shares: dict[str, np.ndarray], off: tuple[int, ...] = ()) -> np.ndarray:
        """The raw output (`conv6`) with the branches of `off` (bin counts) switched off."""
        dropped = {self.branches[bins] for bins in off}
        x = sum(share for source, share in shares.items() if source not in dropped)
        for layer in self.head[1:]:
            x = layer(x, training=False)
        return np.asarray(x)

    def head_reference(self, concat: np.ndarray, off: tuple[int, ...] = ()) -> np.ndarray:
        """The same as `head_from`, by running every head layer, `conv5_4` included, on the
        concatenation with the switched-off branches' channels set to zero."""
        zeroed = concat.copy()
        for bins in off:
            start, stop = self.parts[self.branches[bins]]
            zeroed[..., start:stop] = 0.0
        x = zeroed
        for layer in self.head:
            x = layer(x, training=False)
        return np.asarray(x)


def _leading_eigenvector(matrix: np.ndarray, iterations: int = 500, tolerance: float = 1e-7) -> np.ndarray:
    """The eigenvector of a symmetric positive semi-definite matrix with the largest eigenvalue,
    by power iteration (a full `eigh` of 512×512 took a second on this CPU; this takes milliseconds)."""
    vector = np.linalg.norm(matrix, axis=0)  # a start with a large component along the leading direction
    vector /= np.linalg.norm(vector)
    for _ in range(iterations):
        following = matrix @ vector
        following /= np.linalg.norm(following)
        if np.abs(following - vector).max() < tolerance:
            return following
        vector = following
    return vector


def branch_component(branch: np.ndarray) -> np.ndarray:
    """The first principal component of an H×W×C map's channels, as an H×W map.

    Its sign is chosen so that it grows with the channels' mean activation. A branch that is
    the same everywhere (the 1×1 bin) has no component: the result is zeros.
    """
    values = branch.reshape(-1, branch.shape[-1]).astype(np.float32)
    centred = values - values.mean(axis=0)
    covariance = centred.T @ centred
    if np.trace(covariance) < 1e-9 * max(1.0, float(np.abs(values).sum())):
        return np.zeros(branch.shape[:2], np.float32)
    component = centred @ _leading_eigenvector(covariance)
    if np.corrcoef(component, values.mean(axis=1))[0, 1] < 0:
        component = -component
    return component.reshape(branch.shape[:2]).astype(np.float32)


@dataclass(frozen=True)
class PyramidView:
    """PSPNet's pyramid for one photo.

    Attributes:
        model, pipeline: what ran.
        off: the branches switched off (bin counts) for `labels_off`.
        branches_picture: the photo and the four branches (first principal component), uint8 RGB.
        maps_picture: class maps: the whole network, with `off` switched off, with all four off.
        labels: {"all": ..., "off": ..., "none": ...}: the class of each cell of the network's
            1/8 class map (the top class of `conv6`, the raw output before the final resize and
            softmax, which do not change a cell's top class), cropped to the photo.
        changes: per branch removed alone, {"off", "cells", "fraction"}: the cells of that map
            whose class changes and their share of the photo; and the same for `off` and for
            all four.
        seconds: time taken; network_seconds: of it, the network up to the concatenation.
    """

    model: str
    pipeline: str
    off: tuple[int, ...]
    branches_picture: np.ndarray
    maps_picture: np.ndarray
    labels: dict[str, np.ndarray]
    changes: list[dict]
    seconds: float
    network_seconds: float

    def summary(self) -> dict:
        return {
            "model": self.model,
            "pipeline": self.pipeline,
            "off": list(self.off),
            "changes": self.changes,
            "seconds": round(self.seconds, 3),
            "network_seconds": round(self.network_seconds, 3),
        }


_probe_lock = threading.Lock()
_probes: dict[int, PyramidProbe] = {}
_pyramid_cache: OrderedDict[tuple, tuple] = OrderedDict()
PYRAMID_CACHE_ENTRIES = 2  # per image: the parts of conv5_4 (5 × 60×60×512 floats at 473)


def _probe_for(loaded) -> PyramidProbe:
    with _probe_lock:
        probe = _probes.get(loaded.serial)
        if probe is None:
            probe = _probes[loaded.serial] = PyramidProbe(loaded.model, loaded.spec.raw_output_layer or "conv6")
        return probe


def _pyramid_state(pixels: np.ndarray, key: str, pipeline: str | None):
    """The prepared input, the branches' principal components, conv5_4's parts and the photo's
    cells of one photo (cached for a few photos)."""
    spec = registry.get(key)
    chosen = spec.pipeline(pipeline)
    loaded = runtime.get(key, chosen.name)
    probe = _probe_for(loaded)
    cache_key = (image_digest(pixels), key, chosen.name, loaded.serial)
    with _probe_lock:
        if cache_key in _pyramid_cache:
            _pyramid_cache.move_to_end(cache_key)
            return (*_pyramid_cache[cache_key], 0.0)
    started = time.perf_counter()
    prepared = chosen.preprocess(pixels)
    outputs = loaded.intermediate(prepared.batch, probe._outputs)
    network_seconds = time.perf_counter() - started
    concat, branch_maps = outputs[0], dict(zip(probe.branches, outputs[1:]))
    shares = probe.contributions(concat)
    # The photo's cells of the 1/8 map (the rest is the letterbox's padding). 473 → 237 → 119 → 60:
    # cell i starts at input pixel 8·i (the three halvings round up).
    stride = round(prepared.batch.shape[1] / concat.shape[1])
    rows, columns = (max(1, int(np.ceil(side / stride))) for side in prepared.valid)
    # The branches' pictures do not depend on which branches are switched off: computed once per photo.
    components = {bins: branch_component(branch_maps[bins][0, :rows, :columns]) for bins in probe.branches}
    state = (chosen, loaded, probe, prepared, components, shares, (rows, columns))
    with _probe_lock:
        _pyramid_cache[cache_key] = state
        while len(_pyramid_cache) > PYRAMID_CACHE_ENTRIES:
            _pyramid_cache.popitem(last=False)
    return (*state, network_seconds)


def _check_off(off) -> tuple[int, ...]:
    chosen = tuple(sorted({int(bins) for bins in (off or ())}))
    if any(bins not in (1, 2, 3, 6) for bins in chosen):
        raise ValueError(f"The pyramid's branches are 1, 2, 3 and 6 bins; got {list(off)}.")
    return chosen


def _cell_labels(raw: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """The top class of each cell of a raw (1, h, w, classes) output, cropped to the photo's cells."""
    return np.argmax(raw[0, :rows, :columns], axis=-1).astype(np.int32)


def _colour_labels(labels: np.ndarray, palette) -> np.ndarray:
    colours = np.asarray(palette, dtype=np.uint8)
    return colours[np.clip(labels, 0, len(colours) - 1)]


def _on_photo(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map of cells enlarged to the photo's size by nearest neighbour (each cell a block)."""
    return cv2.resize(cells, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def _titled(pixels: np.ndarray, title: str, size: int) -> np.ndarray:
    """A picture fitted in a size×size box with its title below (above, Gradio puts its label)."""
    tile = render.panel(pixels, size)
    canvas = Image.new("RGB", (size, tile.height + 24), "white")
    canvas.paste(tile, ((size - tile.width) // 2, 0))
    ImageDraw.Draw(canvas).text((4, tile.height + 4), title, fill="black", font=render.font(14))
    return np.asarray(canvas)


def _row(tiles: list[np.ndarray], gap: int = 8) -> np.ndarray:
    height = max(tile.shape[0] for tile in tiles)
    padded = [np.pad(tile, ((0, height - tile.shape[0]), (0, gap), (0, 0)), constant_values=255) for tile in tiles]
    return np.hstack(padded)


def pyramid(image, key: str, pipeline: str | None = None, off=(), tile: int = 240) -> PyramidView:
    """The pyramid pooling module of a PSPNet on one photo.

    Args:
        image: a path, PIL image or array.
        key: a PSPNet registry key.
        pipeline: its pipeline (None: the default).
        off: the branches (bin counts among 1, 2, 3, 6) to switch off for the middle class map.
        tile: side of each picture in the figures.

    Raises:
        ValueError: bad image, a model that is not a PSPNet, unknown branches, missing weights.
    """
    spec = registry.get(key)
    if spec.family != "pspnet":
        raise ValueError(f"The pyramid pooling module is PSPNet's; {key} is a {spec.family} model.")
    off = _check_off(off)
    started = time.perf_counter()
    pixels = images.load(image)
    chosen, loaded, probe, prepared, components, shares, (rows, columns), network_seconds = _pyramid_state(pixels, key, pipeline)
    height, width = prepared.image_size
    photo = images.to_rgb(pixels)
    tiles = [_titled(photo, "photo", tile)]
    for bins in (1, 2, 3, 6):
        component = components[bins]
        picture = cv2.resize(colourise(component), (width, height), interpolation=cv2.INTER_LINEAR)
        note = " (one value)" if not component.any() else ""
        tiles.append(_titled(picture, f"{bins}×{bins} bins{note}", tile))
    branches_picture = _row(tiles)

    full_raw = probe.head_from(shares)
    variants = {"all": full_raw, "none": probe.head_from(shares, (1, 2, 3, 6))}
    variants["off"] = probe.head_from(shares, off) if off else full_raw
    # Class maps at the network's own 1/8 resolution: every variant costs only the layers after
    # conv5_4 (a full-resolution postprocessing of 150 classes costs more than the network's head).
    labels = {name: _cell_labels(raw, rows, columns) for name, raw in variants.items()}
    total = labels["all"].size
    changes = []
    for removed in [(bins,) for bins in (1, 2, 3, 6)] + ([off] if len(off) > 1 else []) + [(1, 2, 3, 6)]:
        if removed == (1, 2, 3, 6):
            changed_labels = labels["none"]
        elif removed == off:
            changed_labels = labels["off"]
        else:
            changed_labels = _cell_labels(probe.head_from(shares, removed), rows, columns)
        count = int(np.count_nonzero(changed_labels != labels["all"]))
        changes.append({"off": list(removed), "cells": count, "fraction": round(count / total, 5)})
    off_title = "off: " + ", ".join(f"{bins}×{bins}" for bins in off) if off else "nothing off"
    maps_picture = _row(
        [
            _titled(_on_photo(_colour_labels(labels["all"], spec.palette), (height, width)), "all branches", tile),
            _titled(_on_photo(_colour_labels(labels["off"], spec.palette), (height, width)), off_title, tile),
            _titled(_on_photo(_colour_labels(labels["none"], spec.palette), (height, width)), "no pyramid", tile),
        ]
    )
    return PyramidView(
        key, chosen.name, off, branches_picture, maps_picture, labels, changes, time.perf_counter() - started, network_seconds
    )


# --------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class Field:
    """What one output cell sees: cell i covers input pixels [jump·i + low, jump·i + high]."""

    jump: int
    low: int
    high: int

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def span(self, index: int) -> tuple[int, int]:
        return self.jump * index + self.low, self.jump * index + self.high


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """The padding TensorFlow puts before the first pixel for 'same' (the smaller half)."""
    effective = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    return max((out - 1) * stride + effective - size, 0) // 2


def receptive_fields(model, layer: str, undilate: tuple[str, ...] = ()) -> Field:
    """The receptive field of one cell of `layer`'s output, from the layers' configurations.

    Walks the graph from the input: a convolution or pooling with kernel k, stride s, dilation d
    and padding p maps a cell i to its input's cells s·i − p … s·i − p + d(k − 1); merges (Add,
    Concatenate) take the union. Layers whose name starts with a prefix in `undilate` are taken
    with dilation 1 (and their `ZeroPadding2D`, which equals the dilation, with padding 1): the
    same network without those dilations.

    Args:
        model: a Keras functional model with a fixed input size.
        layer: the layer whose output cells are asked about.
        undilate: name prefixes of the layers to take without dilation, e.g. ("conv4_", "conv5_").

    Raises:
        ValueError: a layer type the walk does not know (resizing, dense) before `layer`.
    """
    import keras

    fields: dict[str, Field] = {}
    sizes: dict[str, int] = {}
    for current in model.layers:
        name = current.name
        sources = _inbound(current)
        if not sources:
            fields[name], sizes[name] = Field(1, 0, 0), int(current.output.shape[1])
            continue
        before = fields[sources[0]]
        size_in = sizes[sources[0]]
        plain = any(name.startswith(prefix) for prefix in undilate)
        if isinstance(
            current, (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
        ) and not isinstance(current, keras.layers.Conv2DTranspose):
            kernel = (current.kernel_size if hasattr(current, "kernel_size") else current.pool_size)[0]
            stride = current.strides[0]
            dilation = 1 if plain else (current.dilation_rate[0] if hasattr(current, "dilation_rate") else 1)
            pad = _same_padding(size_in, kernel, stride, dilation) if current.padding == "same" else 0
            fields[name] = Field(
                before.jump * stride, before.low - before.jump * pad, before.high + before.jump * (dilation * (kernel - 1) - pad)
            )
        elif isinstance(current, keras.layers.ZeroPadding2D):
            pad = 1 if plain else current.padding[0][0]
            fields[name] = Field(before.jump, before.low - before.jump * pad, before.high - before.jump * pad)
        elif isinstance(current, (keras.layers.Add, keras.layers.Concatenate)):
            parts = [fields[source] for source in sources]
            if len({part.jump for part in parts}) != 1:
                raise ValueError(f"{name} joins maps of different strides")
            fields[name] = Field(parts[0].jump, min(part.low for part in parts), max(part.high for part in parts))
        elif type(current).__name__ in _PASS_THROUGH:
            fields[name] = before
        else:
            if name == layer:
                raise ValueError(f"The receptive field through {type(current).__name__} ({name}) is not computed.")
            fields[name] = Field(before.jump, -(10**9), 10**9)  # global: resizing mixes every cell
        sizes[name] = int(current.output.shape[1])
        if name == layer:
            return fields[name]
    raise ValueError(f"{model.name} has no layer named {layer!r}.")


@lru_cache(maxsize=8)
def pspnet_fields(key: str, pipeline: str | None = None) -> tuple[Field, Field, int]:
    """(with dilations, without the dilations of stages 4 and 5, feature-map side) for a PSPNet,
    from a network built from the registry without its weights (the fields need no values)."""
    from segdemo import architectures

    spec = registry.get(key)
    if spec.family != "pspnet":
        raise ValueError(f"The dilated ResNet is PSPNet's; {key} is a {spec.family} model.")
    chosen = spec.pipeline(pipeline)
    runtime.import_tensorflow()
    model = architectures.build(spec.architecture, **dict(spec.arch_kwargs), **dict(chosen.network_options))
    side = int(model.get_layer(PYRAMID_FEATURES).output.shape[1])
    return receptive_fields(model, PYRAMID_FEATURES), receptive_fields(model, PYRAMID_FEATURES, ("conv4_", "conv5_")), side


@dataclass(frozen=True)
class ReceptiveFieldView:
    picture: np.ndarray
    cell: tuple[int, int]
    fields: dict[str, dict]

    def summary(self) -> dict:
        return {"cell": list(self.cell), **self.fields}


def receptive_field(image, key: str, pipeline: str | None = None, point: tuple[float, float] = (0.5, 0.5)) -> ReceptiveFieldView:
    """The receptive field of the 1/8 feature-map cell under `point` drawn on the photo.

    Args:
        image: a path, PIL image or array.
        key: a PSPNet registry key.
        pipeline: its pipeline (None: the default): where the photo lies in the network's input.
        point: (row, column) as fractions of the photo's height and width.

    Raises:
        ValueError: bad image, not a PSPNet, a point outside [0, 1].
    """
    if len(point) != 2 or not all(0.0 <= float(value) <= 1.0 for value in point):
        raise ValueError(f"The point is (row, column) as fractions between 0 and 1; got {point!r}.")
    spec = registry.get(key)
    chosen = spec.pipeline(pipeline)
    dilated, plain, side = pspnet_fields(key, chosen.name)
    pixels = images.load(image)
    prepared = chosen.preprocess(pixels)
    height, width = prepared.image_size
    # Photo pixel → network input pixel: the photo fills prepared.valid (from the top left).
    scale_y, scale_x = prepared.valid[0] / height, prepared.valid[1] / width
    size = prepared.batch.shape[1]
    cell = tuple(
        min(side - 1, int(float(point[axis]) * (height, width)[axis] * (scale_y, scale_x)[axis] // dilated.jump))
        for axis in (0, 1)
    )
    photo = Image.fromarray(images.to_rgb(pixels)).convert("RGB")
    draw = ImageDraw.Draw(photo)
    line = max(2, round(max(height, width) / 250))
    report = {}
    for name, chosen_field, colour in (("with_dilations", dilated, (230, 40, 40)), ("without_dilations", plain, (40, 90, 230))):
        top, bottom = chosen_field.span(cell[0])
        left, right = chosen_field.span(cell[1])
        box = [left / scale_x, top / scale_y, (right + 1) / scale_x, (bottom + 1) / scale_y]
        clipped = [max(0, box[0]), max(0, box[1]), min(width - 1, box[2]), min(height - 1, box[3])]
        draw.rectangle(clipped, outline=colour, width=line)
        report[name] = {
            "size_input_pixels": chosen_field.size,
            "rows_input": [top, bottom],
            "columns_input": [left, right],
            "covers_whole_input": bool(top <= 0 and left <= 0 and bottom >= size - 1 and right >= size - 1),
        }
    top, bottom = cell[0] * dilated.jump, (cell[0] + 1) * dilated.jump
    left, right = cell[1] * dilated.jump, (cell[1] + 1) * dilated.jump
    draw.rectangle([left / scale_x, top / scale_y, right / scale_x, bottom / scale_y], fill=(255, 230, 0))
    report["feature_map"] = {"side": side, "stride": dilated.jump, "input": size}
    return ReceptiveFieldView(np.asarray(photo), cell, report)


# --------------------------------------------------------------------------- building blocks

OPERATIONS = ("conv_stride2", "upsample_nearest", "upsample_bilinear", "transposed_stride2", "max_pool", "dilated_conv")
EXAMPLE_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)
"""The default 3×3 kernel of the playground (a binomial blur); not a kernel from the lecture."""
EXAMPLE_IMAGE = np.array([[1, 2, 0, 1], [0, 3, 1, 2], [2, 1, 4, 0], [1, 0, 2, 3]], np.float32)
MAX_BLOCK_SIDE = 12


def _as_grid(values, what: str, max_side: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} must be a table of numbers.") from None
    if array.ndim != 2 or min(array.shape) < 1 or max(array.shape) > max_side:
        raise ValueError(f"The {what} must be a table of numbers with 1 to {max_side} rows and columns; got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"The {what} holds a value that is not a number.")
    return array


def building_block(image, operation: str, kernel=None, padding: str = "same") -> np.ndarray:
    """One of the lecture's building blocks on a tiny one-channel image, by the real Keras layer.

    Args:
        image: a small 2-D table of numbers (at most 12×12).
        operation: one of `OPERATIONS`: "conv_stride2" (Conv2D 3×3, stride 2), "upsample_nearest"
            and "upsample_bilinear" (UpSampling2D ×2), "transposed_stride2" (Conv2DTranspose 3×3,
            stride 2), "max_pool" (MaxPooling2D 2×2), "dilated_conv" (Conv2D 3×3, dilation 2).
        kernel: the 3×3 kernel of the convolutions (default `EXAMPLE_KERNEL`); no bias.
        padding: "same" or "valid" for the convolutions and the pooling.

    Returns:
        The output as a 2-D float32 array.

    Raises:
        ValueError: unknown operation or padding, a table that is not numbers or too large,
            an image too small for a 'valid' operation.
    """
    import keras

    if operation not in OPERATIONS:
        raise ValueError(f"Unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}.")
    if padding not in ("same", "valid"):
        raise ValueError(f"Padding is 'same' or 'valid', got {padding!r}.")
    pixels = _as_grid(image, "image", MAX_BLOCK_SIDE)
    weights = _as_grid(EXAMPLE_KERNEL if kernel is None else kernel, "kernel", 3)
    if weights.shape != (3, 3):
        raise ValueError(f"The kernel must be 3×3; got {weights.shape[0]}×{weights.shape[1]}.")
    runtime.import_tensorflow()
    kernel4 = weights[:, :, None, None]
    if operation == "conv_stride2":
        layer = keras.layers.Conv2D(1, 3, strides=2, padding=padding, use_bias=False)
    elif operation == "dilated_conv":
        layer = keras.layers.Conv2D(1, 3, dilation_rate=2, padding=padding, use_bias=False)
    elif operation == "transposed_stride2":
        layer = keras.layers.Conv2DTranspose(1, 3, strides=2, padding=padding, use_bias=False)
    elif operation == "max_pool":
        layer = keras.layers.MaxPooling2D(2, padding=padding)
    else:
        layer = keras.layers.UpSampling2D(2, interpolation=operation.split("_")[1])
    batch = pixels[None, :, :, None]
    needed = {"conv_stride2": 3, "dilated_conv": 5, "max_pool": 2}.get(operation, 1)
    if padding == "valid" and min(pixels.shape) < needed:
        raise ValueError(f"With 'valid' padding this operation needs an image of at least {needed}×{needed}.")
    layer.build(batch.shape)
    if layer.weights:
        layer.set_weights([kernel4])
    return np.asarray(layer(batch))[0, :, :, 0]


def number_table(values: np.ndarray, title: str, cell: int = 44) -> np.ndarray:
    """A 2-D array drawn as a table: each cell shaded by its value and its number written in it."""
    values = np.asarray(values, np.float32)
    rows, columns = values.shape
    low, high = float(values.min()), float(values.max())
    header = 26
    canvas = Image.new("RGB", (columns * cell + 2, header + rows * cell + 2), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((2, 4), title, fill="black", font=render.font(14))
    for row in range(rows):
        for column in range(columns):
            value = float(values[row, column])
            shade = 255 if high - low < 1e-12 else round(255 - 190 * (value - low) / (high - low))
            box = [column * cell + 1, header + row * cell + 1, (column + 1) * cell, header + (row + 1) * cell]
            draw.rectangle(box, fill=(shade, shade, 255), outline=(150, 150, 150))
            text = f"{value:.3g}" if abs(value - round(value)) > 1e-6 else str(round(value))
            draw.text((box[0] + 4, box[1] + cell // 2 - 8), text, fill="black", font=render.font(13 if len(text) < 5 else 10))
    return np.asarray(canvas)


def building_block_picture(image, operation: str, kernel=None, padding: str = "same") -> tuple[np.ndarray, np.ndarray]:
    """(picture, output): input, kernel (for the convolutions) and output as number tables,
    with the input and output also as grey pictures below, side by side."""
    pixels = _as_grid(image, "image", MAX_BLOCK_SIDE)
    output = building_block(pixels, operation, kernel, padding)
    tables = [number_table(pixels, f"input {pixels.shape[0]}×{pixels.shape[1]}")]
    if operation in ("conv_stride2", "transposed_stride2", "dilated_conv"):
        tables.append(number_table(EXAMPLE_KERNEL if kernel is None else _as_grid(kernel, "kernel", 3), "kernel 3×3"))
    tables.append(number_table(output, f"{operation} → {output.shape[0]}×{output.shape[1]}"))
    top = _row(tables, gap=16)
    scale = 24
    low = min(float(pixels.min()), float(output.min()))
    high = max(float(pixels.max()), float(output.max()), low + 1e-6)
    pictures = [render.panel(render.grey((array - low) / (high - low)), scale * max(array.shape)) for array in (pixels, output)]
    bottom = _row([np.asarray(picture) for picture in pictures], gap=16)
    width = max(top.shape[1], bottom.shape[1])
    padded = [np.pad(part, ((0, 8), (0, width - part.shape[1]), (0, 0)), constant_values=255) for part in (top, bottom)]
    return np.vstack(padded), output


# --------------------------------------------------------------------------- model cards


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
        elif info.kind in _PASS_THROUGH and nodes:
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


def diagram(infos: list[LayerInfo]) -> np.ndarray:
    """The network as a column of boxes, one per layer (pass-through layers folded in, PSPNet's
    residual units one box per stage): each box's width grows with the map's side, its colour says
    encoder / bottleneck / decoder / skip / pyramid, its text gives the output shape, and a green
    line on the left joins each skip connection to the encoder map it brings over."""
    nodes, box_of = _diagram_nodes(infos)
    box_height, gap, width, margin = 30, 6, 600, 48
    largest = max(max(shape[0], shape[1]) for _, shape, _, _ in nodes)
    canvas = Image.new("RGB", (width, 34 + len(nodes) * (box_height + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    left = 8
    for role in ROLES:
        draw.rectangle([left, 8, left + 14, 22], fill=ROLE_COLOURS[role], outline="black")
        draw.text((left + 18, 8), role, fill="black", font=render.font(12))
        left += 24 + int(render.font(12).getlength(role))
    lefts = []
    for index, (label, shape, role, _) in enumerate(nodes):
        top = 34 + index * (box_height + gap)
        side = max(shape[0], shape[1])
        box_width = 150 + int(220 * np.log2(max(side, 1)) / max(np.log2(max(largest, 2)), 1))
        left = margin + (width - margin - 190 - box_width) // 2
        lefts.append(left)
        draw.rectangle(
            [left, top, left + box_width, top + box_height], fill=ROLE_COLOURS.get(role, (220, 220, 220)), outline="black"
        )
        draw.text((left + 6, top + 8), label, fill="black", font=render.font(13))
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
            y0 = 34 + origin * (box_height + gap) + box_height // 2
            y1 = 34 + target * (box_height + gap) + box_height // 2
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
