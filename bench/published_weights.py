"""Random weights in the published PSPNet layout, for benches run where the real files are absent.

The published PSPNet files are Keras-2 weights-only HDF5 files (see segdemo/legacy_h5.py). Keras
still ships the writer that Keras 2's `save_weights` used (`save_weights_to_hdf5_group`); the app
reads its output as it reads the published files (tests/test_legacy_h5.py checks that). Random
weights cost the network the same time as the real ones; only the labels are meaningless.
"""

from __future__ import annotations

from pathlib import Path


def write_random_published_weights(key: str, folder: Path, seed: int = 0) -> Path:
    """Writes `key`'s network with random weights to `folder / spec.weights_file`.

    Args:
        key: a PSPNet's registry key ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes").
        folder: the folder to write into (then named by SEGDEMO_WEIGHTS_DIR).
        seed: Keras's random seed for the initial weights.

    Returns:
        The path written.
    """
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from segdemo import architectures, registry

    spec = registry.get(key)
    keras.utils.set_random_seed(seed)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    path = Path(folder) / spec.weights_file
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path
