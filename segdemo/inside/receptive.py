"""Receptive fields: the input pixels one cell of PSPNet's 1/8 feature map sees, from the
layers' kernels, strides and dilations, with and without the dilations of stages 4 and 5 (the
"Receptive field" view, under the pyramid).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from segdemo import images, registry, runtime
from segdemo.inside.layers import PASS_THROUGH, inbound

PYRAMID_FEATURES = "conv5_3_relu"  # the dilated ResNet's 1/8 feature map, before the pyramid


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
        sources = inbound(current)
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
        elif type(current).__name__ in PASS_THROUGH:
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
