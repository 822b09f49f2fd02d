"""PSPNet's pyramid pooling module: its four pooled branches as pictures, and the class map with
branches switched off (their part of the concatenation `conv5_3_concat` zeroed, the rest of the
network run on it), with a small cache of the network's outputs per photo (the "Pyramid
pooling" view).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, registry, render, runtime
from segdemo.inside.layers import PYRAMID_CONCAT, inbound
from segdemo.inside.pictures import colourise, side_by_side
from segdemo.output_cache import image_digest


def _pyramid_branch_layers(model) -> dict[int, str]:
    """{bins: layer name} of the resized branches, from the concatenation's own inputs."""
    branches = {}
    for source in inbound(model.get_layer(PYRAMID_CONCAT)):
        match = re.fullmatch(r"conv5_3_pool(\d+)_interp", source)
        if match:
            branches[int(match.group(1))] = source
    return branches


def _chain_between(model, first: str, last: str) -> list:
    """The layers after `first` up to and including `last`, which must form a simple chain."""
    followers: dict[str, list] = {}
    for layer in model.layers:
        for source in inbound(layer):
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
        for source in inbound(model.get_layer(PYRAMID_CONCAT)):
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
    branches_picture = side_by_side(tiles)

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
    maps_picture = side_by_side(
        [
            _titled(_on_photo(_colour_labels(labels["all"], spec.palette), (height, width)), "all branches", tile),
            _titled(_on_photo(_colour_labels(labels["off"], spec.palette), (height, width)), off_title, tile),
            _titled(_on_photo(_colour_labels(labels["none"], spec.palette), (height, width)), "no pyramid", tile),
        ]
    )
    return PyramidView(
        key, chosen.name, off, branches_picture, maps_picture, labels, changes, time.perf_counter() - started, network_seconds
    )
