"""Seeded weights in the published PSPNet layout, for benches run where the real files are absent.

The published PSPNet files are Keras-2 weights-only HDF5 files (see segdemo/legacy_h5.py). Keras
still ships the writer that Keras 2's `save_weights` used (`save_weights_to_hdf5_group`); the app
reads its output as it reads the published files (tests/test_legacy_h5.py checks that).

`write_random_published_weights` writes plain random weights: they cost the network the same time
as the real ones, but their labels are meaningless. `write_trained_like_weights` writes weights
that behave like trained ones (bench/seeded_weights.py: confident, image-dependent outputs): every
figure that compares labels or probabilities (precision guards, int8, engines) uses those.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TRAINED_LIKE_VERSION = 1
"""Bumped whenever bench/seeded_weights.py's recipe changes: cached files of another version are not reused."""


def _write(model, path: Path) -> Path:
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with h5py.File(partial, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    partial.replace(path)
    return path


def write_random_published_weights(key: str, folder: Path, seed: int = 0) -> Path:
    """Writes `key`'s network with random weights to `folder / spec.weights_file`.

    Args:
        key: a PSPNet's registry key ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes").
        folder: the folder to write into (then named by SEGDEMO_WEIGHTS_DIR).
        seed: Keras's random seed for the initial weights.

    Returns:
        The path written.
    """
    import keras

    from segdemo import architectures, registry

    spec = registry.get(key)
    keras.utils.set_random_seed(seed)
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    return _write(model, Path(folder) / spec.weights_file)


def calibration_batch(spec):
    """The shipped photos (all nine) as `spec`'s default pipeline gives them to the network.

    Args:
        spec: a PSPNet's registry spec (possibly reduced: its pipelines set the input size).
    """
    import numpy as np

    from segdemo import images, samples

    pipeline = spec.default_pipeline
    return np.concatenate([pipeline.preprocess(images.load(photo.image)).batch for photo in samples.photos()])


def write_trained_like_weights(
    key: str, folder: Path, seed: int = 0, cache: Path | None = None, stand_in: str = "committed"
) -> Path:
    """Writes `key`'s network with weights that behave like trained ones to `folder / spec.weights_file`.

    Calibrating a full network takes a minute or two, so the file is kept in `cache` (default:
    segdemo's cache folder) keyed by the network, the seed and the recipe's version, and copied
    from there next time.

    Args:
        key: a PSPNet's registry key.
        folder: the folder to write into (then named by SEGDEMO_WEIGHTS_DIR).
        seed: the seed of bench/seeded_weights.py's recipe.
        cache: where calibrated files are kept; None: `segdemo.settings.cache_dir() / "seeded"`.
        stand_in: the recipe's variant (bench/seeded_weights.py's STAND_INS); "committed" unless
            measuring the variants of docs/int8.md.

    Returns:
        The path written.
    """
    from bench.seeded_weights import make_trained_like
    from segdemo import architectures, registry, settings

    spec = registry.get(key)
    cache = Path(cache) if cache is not None else settings.cache_dir() / "seeded"
    variant = "" if stand_in == "committed" else f".{stand_in}"
    cached = cache / f"{key}.seed{seed}.v{TRAINED_LIKE_VERSION}{variant}.h5"
    if not cached.is_file():
        model = architectures.build(spec.architecture, **spec.arch_kwargs, **spec.default_pipeline.network_options)
        report = make_trained_like(model, calibration_batch(spec), seed, stand_in=stand_in)
        print(
            f"{key}: trained-like weights ({stand_in}, seed {seed}): mean top probability {report['confidence']:.2f}, "
            f"{report['classes_seen']} classes seen",
            flush=True,
        )
        _write(model, cached)
    target = Path(folder) / spec.weights_file
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, target)
    return target
