"""Skip connections: the decoder of a network with skip connections beside the same network
without them, on one image (the "Skip connections" view).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, registry, render, runtime
from segdemo.inside.layers import LayerInfo, layer_list
from segdemo.inside.pictures import colourise

SKIP_PAIRS = {"membrane": ("membrane_unet", "membrane_noskip"), "eliret": ("fcn_skip", "fcn")}
"""Per family: (the network with skip connections, the same network without them)."""


def _decoder_levels(infos: list[LayerInfo], other: set[str]) -> list[LayerInfo]:
    """The layers compared: the bottleneck's last map, the last many-channel decoder map at each
    resolution, and the output; only layers both networks have (names in `other`)."""
    levels: OrderedDict[tuple[int, int], LayerInfo] = OrderedDict()
    for info in infos:
        many = info.shape[-1] > 1
        if info.role in ("decoder", "bottleneck") and info.name in other and many and info.kind not in ("Concatenate", "Dropout"):
            levels[info.shape[:2]] = info
    chosen = list(levels.values())
    # The output before a mirrored border is cropped off (membranes): the same side as the last level.
    output = next(info for info in reversed(infos) if info.role != "border")
    if output.name in other and output not in chosen:
        chosen.append(output)
    return chosen


def _on_square(tile: np.ndarray, side: int) -> np.ndarray:
    """An RGB picture at most side×side, centred on a white side×side square."""
    rows, columns = side - tile.shape[0], side - tile.shape[1]
    return np.pad(tile, ((rows // 2, rows - rows // 2), (columns // 2, columns - columns // 2), (0, 0)), constant_values=255)


def _mosaic(maps: np.ndarray, count: int = 4) -> np.ndarray:
    """The `count` strongest channels of H×W×C in a 2×2 mosaic, each scaled to its own range."""
    order = np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0), kind="stable")[:count]
    tiles = [colourise(maps[..., channel]) for channel in order]
    while len(tiles) < 4:
        tiles.append(np.full_like(tiles[0], 255))
    # Enlarged first, so the white line between the four stays thin at any map size; a map that is
    # not square (an image that is not) keeps its shape, centred on a white square.
    side = max(64, *maps.shape[:2])
    tiles = [_on_square(np.asarray(render.panel(tile, side)), side) for tile in tiles]
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
    # Along each axis with neighbours (a strip one pixel high has none across it).
    steps = [float(np.abs(np.diff(strongest, axis=axis)).mean()) for axis in (0, 1) if strongest.shape[axis] > 1]
    if spread < 1e-12 or not steps:
        return 0.0
    return sum(steps) / spread


def skip_comparison(image, family: str) -> SkipComparison:
    """The decoder of the skip model beside the no-skip model of `family` on `image`.

    Args:
        image: a path, PIL image or array.
        family: "membrane" (membrane_unet vs membrane_noskip) or "eliret" (fcn_skip vs fcn): the network with skips first, as in `SKIP_PAIRS`.

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
