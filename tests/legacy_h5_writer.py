"""Writes Keras-2 weights-only HDF5 files from a Keras 3 model, for the tests (the app only reads them).

The layout is the one `segdemo/legacy_h5.py` describes: root attribute `layer_names`, one group
per layer with its `weight_names`, each weight a dataset at that name inside the group. This
writer is itself checked against Keras's own legacy reader (tests/test_pspnet.py).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

LAYOUTS = ("weights_only", "model_weights")
LEGACY_BACKEND = b"tensorflow"
LEGACY_KERAS_VERSION = b"2.15.0"
# Keras 2 split attributes larger than HDF5's object header limit into name0, name1, ...
_ATTRIBUTE_LIMIT = 64512


def write_name_list(group: h5py.Group, name: str, names: list[str]) -> None:
    """Writes a list of names as Keras 2 did: bytes, split into `name0`, `name1`, ... when the
    attribute would pass HDF5's object header limit.

    Args:
        group: the HDF5 group (or file) to hold the attribute.
        name: the attribute's name.
        names: the names to write.
    """
    data = np.asarray([value.encode("utf8") for value in names]) if names else np.asarray([])
    chunks = 1
    while data.nbytes / chunks > _ATTRIBUTE_LIMIT:
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
        return
    for index, part in enumerate(np.array_split(data, chunks)):
        group.attrs[f"{name}{index}"] = part


def write_legacy_weights(
    model,
    path: str | Path,
    layout: str = "weights_only",
    suffix: str = "",
    weight_suffix: str = "",
) -> Path:
    """Writes a Keras 3 model's weights in the Keras-2 `save_weights` HDF5 layout.

    Args:
        model: the Keras 3 model.
        path: the `.h5` file to write (replaced when it exists).
        layout: "weights_only" (groups at the root, as `save_weights` wrote) or
            "model_weights" (the same under a `model_weights` group, as in a whole-model
            file; no model configuration is written).
        suffix: appended to the layer part of each weight name, e.g. "_1" gives
            `conv1_1_3x3_s2/conv1_1_3x3_s2_1/kernel:0`.
        weight_suffix: appended to the weight part, e.g. "_1" gives `.../kernel_1:0`.

    Returns:
        The path written.

    Raises:
        ValueError: for an unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    path = Path(path)
    with h5py.File(path, "w") as handle:
        root = handle
        if layout == "model_weights":
            handle.attrs["backend"] = LEGACY_BACKEND
            handle.attrs["keras_version"] = LEGACY_KERAS_VERSION
            root = handle.create_group("model_weights")
        write_name_list(root, "layer_names", [layer.name for layer in model.layers])
        root.attrs["backend"] = LEGACY_BACKEND
        root.attrs["keras_version"] = LEGACY_KERAS_VERSION
        for layer in sorted(model.layers, key=lambda item: item.name):
            group = root.create_group(layer.name)
            names = [f"{layer.name}{suffix}/{variable.name}{weight_suffix}:0" for variable in layer.weights]
            write_name_list(group, "weight_names", names)
            for name, value in zip(names, layer.get_weights()):
                group.create_dataset(name, data=value)
    return path


def write_random_published(folder: Path, key: str, seed: int) -> Path:
    """A registry PSPNet with random weights (Keras seeded with `seed`), written in the
    published Keras-2 layout where the app looks for its file in `folder`."""
    import keras

    from segdemo import architectures, registry

    spec = registry.get(key)
    keras.utils.set_random_seed(seed)
    return write_legacy_weights(architectures.build(spec.architecture, **spec.arch_kwargs), Path(folder) / spec.weights_file)
