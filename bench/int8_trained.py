"""int8 and sub-grey-level noise on this project's own *trained* segmentation networks.

The PSPNets' int8 verdict can only be taken on stand-in weights here (docs/int8.md), and those
lose labels under input changes smaller than one grey level. This bench measures the same two
things on networks that were really trained (the eliret FCN and U-Net, the membrane U-Nets), to
say how a trained network behaves under them:

- OpenVINO int8 as the app makes it (`segdemo.engines.quantize_openvino`: NNCF, `MIXED` preset),
  calibrated on training images, compared with TensorFlow float32 on held-out images (eliret's
  test split, the 30 unlabelled membrane slices): the share of equal labels (foreground at 0.5),
  worst image and pooled, the figures of the app's guard;
- TensorFlow float32 with uniform noise of ±0.5 grey level added to the network's input (the
  PSPNets' "noise floor" in bench/int8_layers.py).

Usage: python -m bench.int8_trained [--models fcn unet membrane_unet membrane_unet_256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("OPENVINO_TELEMETRY_DISABLE", "1")
os.environ.setdefault("NNCF_TELEMETRY_DISABLE", "1")

MODELS = ("fcn", "unet", "membrane_unet", "membrane_unet_256")
THRESHOLD = 0.5


def image_sets(key: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration images, held-out images), uint8 H×W, for a model's dataset."""
    from segdemo import registry
    from segdemo.datasets import eliret, membrane

    if registry.get(key).family == "membrane":
        root = membrane.folder()
        calibration = [membrane.read_slice(root / "train" / "image" / f"{index}.png") for index in range(20)]
        return calibration, [membrane.read_slice(path) for path in membrane.test_paths(root)]

    def grey(split: str) -> list[np.ndarray]:
        return [np.round(eliret.read_grey(image) * 255).astype(np.uint8) for image, _ in eliret.split_pairs(split)]

    return grey("train"), grey("test")


def shares(reference: list[np.ndarray], candidate: list[np.ndarray]) -> list[float]:
    """Per image, the share of pixels on the same side of THRESHOLD."""
    return [float(((a > THRESHOLD) == (b > THRESHOLD)).mean()) for a, b in zip(reference, candidate)]


def measure(key: str, rng: np.random.Generator) -> dict:
    import openvino

    from segdemo import engines, registry, runtime

    loaded = runtime.LoadedModel(registry.get(key), precision="exact")
    calibration_images, held_out_images = image_sets(key)
    calibration = [loaded.pipeline.preprocess(image).batch.astype(np.float32) for image in calibration_images]
    held_out = [loaded.pipeline.preprocess(image).batch.astype(np.float32) for image in held_out_images]
    expected = [np.asarray(loaded.model(batch, training=False)) for batch in held_out]
    with tempfile.TemporaryDirectory(prefix="int8-trained-") as folder:
        loaded.model.export(folder, verbose=False)
        model_f32 = openvino.convert_model(folder)
    started = time.perf_counter()
    model_int8 = engines.quantize_openvino(model_f32, calibration)
    quantize_seconds = time.perf_counter() - started
    compiled = openvino.Core().compile_model(model_int8, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    # One grey level of the image, in the network input's units (the pipelines scale 0-255 to 0-1).
    half_level = 0.5 * (max(float(b.max()) for b in held_out) - min(float(b.min()) for b in held_out)) / 255
    noisy = [
        np.asarray(loaded.model(batch + rng.uniform(-half_level, half_level, batch.shape).astype(np.float32), training=False))
        for batch in held_out
    ]
    return {
        "images": f"{len(calibration)} calibration / {len(held_out)} held-out, {held_out[0].shape[1]}×{held_out[0].shape[2]}",
        "near": float(np.mean([(np.abs(out - THRESHOLD) < 0.05).mean() for out in expected])),
        "int8": shares(expected, [np.asarray(compiled([batch])[0]) for batch in held_out]),
        "noise": shares(expected, noisy),
        "seconds": quantize_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    arguments = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(
        f"{'network':<19}{'images':<34}{'near 0.5':>9}{'int8 worst':>12}{'pooled':>9}{'noise worst':>13}{'pooled':>9}{'quant. s':>10}"
    )
    for key in arguments.models:
        row = measure(key, rng)
        print(
            f"{key:<19}{row['images']:<34}{row['near']:>9.2%}{min(row['int8']):>12.2%}{np.mean(row['int8']):>9.2%}"
            f"{min(row['noise']):>13.2%}{np.mean(row['noise']):>9.2%}{row['seconds']:>10.0f}",
            flush=True,
        )
    print("near 0.5: pixels whose float32 score is within 0.05 of the threshold; noise: ±0.5 grey level on the input")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
