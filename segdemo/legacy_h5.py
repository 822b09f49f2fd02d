"""Keras-2 weights-only HDF5 files, read and written with h5py.

Keras 2's `model.save_weights("x.h5")` writes:

- root attributes `layer_names` (every layer of the model, in `model.layers` order, as
  bytes), `backend` and `keras_version`;
- one group per layer, whose attribute `weight_names` lists the layer's weights (for
  example `b"conv1_1_3x3_s2/kernel:0"`; empty for layers without weights);
- each weight as a dataset at that name relative to the layer's group, so usually
  `f[layer][layer]["kernel:0"]`.

Whole-model files (`model.save("x.h5")`) hold the same under a `model_weights` group. Files
written by a session that had built the model before may carry a suffix on the names
(`conv1_1_3x3_s2_1/kernel:0`, or `kernel_1:0`).

`load_legacy_weights` sets a Keras 3 model's weights from such a file by layer name, and
checks that every weighted layer is set exactly once with the right shapes. (The tests write
such files with `tests/legacy_h5_writer.py`, and check this reader against files written by
Keras itself and built by hand.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

_KIND = re.compile(r"^(?P<kind>.+?)(?:_\d+)?(?::\d+)?$")
_MAX_LISTED = 8


@dataclass(frozen=True)
class LoadReport:
    """What `load_legacy_weights` did.

    Attributes:
        layers_set: number of the model's layers whose weights were set.
        arrays_set: number of arrays (variables) set.
        layout: "weights_only" (groups at the file's root) or "model_weights" (a whole-model
            file whose weights sit under the `model_weights` group).
        path: the file read.
    """

    layers_set: int
    arrays_set: int
    layout: str
    path: str


def _decode(value) -> str:
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def read_name_list(group: h5py.Group, name: str) -> list[str] | None:
    """Reads a list-of-names attribute the way Keras 2 wrote it, or None when absent.

    Args:
        group: the HDF5 group (or file) holding the attribute.
        name: the attribute's name; Keras 2 split long lists into `name0`, `name1`, ...
    """
    if name in group.attrs:
        chunks = [group.attrs[name]]
    elif f"{name}0" in group.attrs:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    else:
        return None
    return [_decode(value) for chunk in chunks for value in np.atleast_1d(chunk)]


def weight_kind(weight_name: str) -> str:
    """The kind of a Keras-2 weight name: its last path component without suffixes.

    Args:
        weight_name: e.g. "conv1_1_3x3_s2/kernel:0", "conv1_1_3x3_s2_1/kernel:0" or
            "bn/moving_mean_1:0".

    Returns:
        "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", ...
    """
    last = weight_name.rsplit("/", 1)[-1]
    return _KIND.match(last).group("kind")


def _open_weights_root(handle: h5py.File, path: Path) -> tuple[h5py.Group, str]:
    """The group holding `layer_names` and the layer groups, and the layout's name."""
    if read_name_list(handle, "layer_names") is not None:
        return handle, "weights_only"
    if "model_weights" in handle and read_name_list(handle["model_weights"], "layer_names") is not None:
        return handle["model_weights"], "model_weights"
    if "layers" in handle:
        hint = " It looks like a Keras 3 `.weights.h5` file: load it with model.load_weights()."
    else:
        hint = ""
    raise ValueError(
        f"{path} is not a Keras-2 weights file: no `layer_names` attribute at its root or under `model_weights`.{hint}"
    )


def _read_layer(root: h5py.Group, layer: str, path: Path) -> list[tuple[str, str, np.ndarray]]:
    """Reads one layer's weights as (weight name, kind, array) in the file's order."""
    if layer not in root:
        raise ValueError(f"{path}: layer {layer!r} is listed in `layer_names` but has no group")
    group = root[layer]
    names = read_name_list(group, "weight_names") or []
    weights = []
    for name in names:
        if name not in group or not isinstance(group[name], h5py.Dataset):
            raise ValueError(f"{path}: layer {layer!r} lists weight {name!r}, but no dataset {layer}/{name} exists")
        weights.append((name, weight_kind(name), np.asarray(group[name])))
    return weights


def read_legacy_weights(path: str | Path) -> tuple[dict[str, list[tuple[str, str, np.ndarray]]], str]:
    """Reads every weighted layer of a Keras-2 HDF5 weights file.

    Args:
        path: the `.h5` file (weights-only or whole-model).

    Returns:
        ({layer name: [(weight name, kind, array), ...]}, layout) for layers that hold
        weights, in the file's `layer_names` order; layout is "weights_only" or
        "model_weights".

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when it is not HDF5 (an error page saved in place of the file, say), not
            in the Keras-2 layout, lists a layer twice or lists weights it does not hold.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"{path} ({path.stat().st_size:,} bytes) is not an HDF5 file; a failed download saves an error page instead ({error})"
        ) from None
    with handle:
        root, layout = _open_weights_root(handle, path)
        names = read_name_list(root, "layer_names")
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        if repeated:
            raise ValueError(f"{path}: `layer_names` lists these layers more than once: {', '.join(repeated)}")
        layers = {}
        for layer in names:
            weights = _read_layer(root, layer, path)
            if weights:
                layers[layer] = weights
    return layers, layout


def _listed(names) -> str:
    names = list(names)
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _match_layer(layer, file_weights: list[tuple[str, str, np.ndarray]], path: Path) -> list[np.ndarray]:
    """Orders a layer's file arrays as `layer.weights` and checks kinds, counts and shapes."""
    expected = [(variable.name, tuple(variable.shape)) for variable in layer.weights]
    found = {}
    for name, kind, array in file_weights:
        if kind in found:
            raise ValueError(f"{path}: layer {layer.name!r} holds two weights of kind {kind!r} ({name})")
        found[kind] = array
    if len(file_weights) != len(expected) or set(found) != {kind for kind, _ in expected}:
        raise ValueError(
            f"{path}: layer {layer.name!r} expects weights {[kind for kind, _ in expected]}, "
            f"the file holds {[name for name, _, _ in file_weights]}"
        )
    arrays = []
    for kind, shape in expected:
        array = found[kind]
        if array.shape != shape:
            raise ValueError(
                f"{path}: layer {layer.name!r} weight {kind!r} has shape {array.shape} in the file, the model expects {shape}"
            )
        arrays.append(array)
    return arrays


def load_legacy_weights(model, path: str | Path) -> LoadReport:
    """Sets a Keras 3 model's weights from a Keras-2 HDF5 file, by layer name.

    Nothing is set unless the whole file matches: every layer of the model that has weights
    must appear in the file with the same weight kinds and shapes, and the file must hold no
    weighted layer the model lacks.

    Args:
        model: a built Keras 3 model whose layer names match the file's.
        path: the `.h5` file (weights-only, or a whole-model file with `model_weights`).

    Returns:
        A `LoadReport` with the number of layers and arrays set and the file's layout.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the layer, weight and shapes concerned, when the file and the
            model do not match, or the file is not a Keras-2 weights file.
    """
    path = Path(path)
    file_layers, layout = read_legacy_weights(path)
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}

    missing = [name for name in model_layers if name not in file_layers]
    if missing:
        raise ValueError(f"{path} holds no weights for {len(missing)} layer(s) of {model.name!r}: {_listed(missing)}")
    unused = [name for name in file_layers if name not in model_layers]
    if unused:
        raise ValueError(
            f"{path} holds weights for {len(unused)} layer(s) that {model.name!r} does not have "
            f"(or has without weights): {_listed(unused)}"
        )

    values = {name: _match_layer(layer, file_layers[name], path) for name, layer in model_layers.items()}
    arrays_set = 0
    for name, layer in model_layers.items():
        layer.set_weights(values[name])
        arrays_set += len(values[name])
    if arrays_set != len(model.weights):
        raise ValueError(f"{path}: set {arrays_set} arrays, but {model.name!r} has {len(model.weights)} weights")
    return LoadReport(layers_set=len(model_layers), arrays_set=arrays_set, layout=layout, path=str(path))
