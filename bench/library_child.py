"""Runs keras-segmentation 0.3.0's own predict() in its separate Keras-2 environment.

Not part of segdemo and never imported by it: `bench/keras_segmentation_reference.py` runs this
file with the reference environment's Python (TensorFlow 2.15, keras-segmentation 0.3.0). It
builds the library's PSPNet, gives it the seeded weights of bench/seeded_weights.py, writes them
with the library's `model.save_weights` (the Keras-2 layout of the published files), and records
for each photo what the library's preprocessing produced, its labels and its top probabilities,
and (with --time) the library's predict() seconds on the photo file.

Usage (reference environment): python bench/library_child.py --layers 50 --classes 150 --size 473
    --seed 1 --photos photos.npz --weights out.h5 --output out.npz [--time FILE ...]
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _shim_keras_merge() -> None:
    """keras-segmentation imports keras.layers.merge, which Keras 2.15 no longer has."""
    import keras

    merge = types.ModuleType("keras.layers.merge")
    merge.Concatenate = keras.layers.Concatenate
    merge.Add = keras.layers.Add
    sys.modules["keras.layers.merge"] = merge


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--photos", help="npz of BGR uint8 photos (the same decoded pixels segdemo uses)")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--time", nargs="*", default=[], help="photo files to time the library's predict() on")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    _shim_keras_merge()
    sys.path.insert(0, str(ROOT / "bench"))
    from keras_segmentation.data_utils.data_loader import get_image_array
    from keras_segmentation.models.pspnet import pspnet_50, pspnet_101
    from keras_segmentation.predict import predict
    from seeded_weights import apply_seeded_weights

    build = {50: pspnet_50, 101: pspnet_101}[arguments.layers]
    model = build(arguments.classes, input_height=arguments.size, input_width=arguments.size)
    apply_seeded_weights(model, arguments.seed)
    model.save_weights(arguments.weights)

    record = {}
    if arguments.photos:
        photos = np.load(arguments.photos)
        for name in photos.files:
            bgr = photos[name]
            record[f"{name}/input"] = get_image_array(bgr, arguments.size, arguments.size, ordering="channels_last")
            record[f"{name}/labels"] = predict(model, inp=bgr).astype(np.int16)
            probabilities = model.predict(record[f"{name}/input"][None], verbose=0)[0]
            record[f"{name}/top"] = probabilities.max(axis=-1).reshape(arguments.size, arguments.size).astype(np.float32)
    for path in arguments.time:
        predict(model, inp=path)  # warm-up
        times = []
        for _ in range(arguments.repeats):
            started = time.perf_counter()
            predict(model, inp=path)
            times.append(time.perf_counter() - started)
        record[f"time/{Path(path).name}"] = np.asarray(times)
    np.savez(arguments.output, **record)


if __name__ == "__main__":
    main()
