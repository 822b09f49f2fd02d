"""Engines and number formats for the PSPNets, measured in one run: seconds and agreement with
TensorFlow float32 (what `exact` runs), network only and end to end.

For each network, in its own process (so each peak RSS is its own):
- TensorFlow float32 (the reference), Keras's `mixed_bfloat16` policy, and TensorFlow's oneDNN
  auto-mixed-precision graph rewrite (bfloat16);
- OpenVINO float32, bfloat16 (`INFERENCE_PRECISION_HINT`) and int8 (NNCF post-training
  quantization, `segdemo.engines.quantize_openvino`, calibrated on the shipped photos, their mirror
  images and centre crops);
each timed on one photo (median of --repeats after a warm-up) and compared with the reference on
the nine shipped photos at the network's resolution after its own tail (resize, softmax): the
share of equal labels (pooled, and the worst photo) and the mean |difference| of the top-class
probability; then `segdemo.predict()` end to end on a 1280×853 photo in each mode. The guard that
decides what the app runs (segdemo.engines): labels ≥ 99.5 % equal, top difference ≤ 0.025, and
at least 1.5× faster than float32 for a reduced-precision mode.

The weights: the published files when present; otherwise seeded weights in the published layout
calibrated to behave like trained ones (bench/seeded_weights.py; cached after the first run).

With --library, the lecture's library (keras-segmentation 0.3.0, in its own environment: see
bench/keras_segmentation_reference.py) times its own predict() on the same photo file first, in
the same run, and every mode's end-to-end time is also given as a multiple of the library's.

Usage: python -m bench.engines [--models pspnet_ade20k ...] [--repeats 3] [--skip ov-int8 ...]
    [--library [--reference-python PYTHON]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.load import peak_rss_mib

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes")
MODES = ("tf-float32", "tf-bfloat16", "tf-onednn-amp", "ov-float32", "ov-bfloat16", "ov-int8")
END_TO_END_PHOTO = "ade_bakery.jpg"


def _rss_mib() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child
    # started by a parent that had just calibrated the weights reported the parent's peak.
    return peak_rss_mib(os.getpid())


def _timed(run, batch, repeats: int) -> float:
    run(batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def measure(key: str, repeats: int, skip: list[str]) -> dict:
    """Runs in a child process with SEGDEMO_WEIGHTS_DIR set: every mode of one network."""
    import keras
    import tensorflow as tf

    import segdemo
    from segdemo import cpu, engines, images, registry, runtime, samples, settings

    spec = registry.get(key)
    loaded = runtime.get(key)  # TensorFlow float32 (the child runs with SEGDEMO_ENGINE=tensorflow)
    pixels = [images.load(photo.image) for photo in samples.photos()]
    batches = [loaded.pipeline.preprocess(image).batch for image in pixels]
    reference_raw = loaded._tensorflow_raw
    expected = [loaded.tail(reference_raw(batch)) for batch in batches]
    end_to_end_image = next(image for photo, image in zip(samples.photos(), pixels) if photo.image.name == END_TO_END_PHOTO)
    rows = []

    def add(name: str, run, built_in: float, label: str, note: str = "") -> None:
        seconds = _timed(run, batches[0], repeats)
        found = engines.agreement(expected, [loaded.tail(run(batch)) for batch in batches])
        mode = engines.Mode(engines.OPENVINO if name.startswith("ov") else engines.TENSORFLOW, label)
        loaded.use(mode, run)
        segdemo.predict(end_to_end_image, key)  # warm: the tail's and the overlay's first calls
        started = time.perf_counter()
        for index in range(repeats):  # a new image each time (a column less): nothing from the output cache
            segdemo.predict(end_to_end_image[:, : end_to_end_image.shape[1] - 1 - index - repeats * len(rows)], key)
        end_to_end = (time.perf_counter() - started) / repeats
        loaded.use(engines.REFERENCE, reference_raw)
        rows.append(
            {
                "mode": name,
                "seconds": seconds,
                "end_to_end": end_to_end,
                "labels": found.labels,
                "worst_photo": found.worst_photo,
                "top_difference": found.top_difference,
                "prepared_s": built_in,
                "rss_mib": _rss_mib(),
                "note": note,
            }
        )
        print(f"{key} {name}: {seconds:.2f} s, labels {found.labels:.4%}", file=sys.stderr, flush=True)

    add("tf-float32", reference_raw, 0.0, "float32")
    head = loaded.model.get_layer(spec.raw_output_layer)
    truncated = keras.Model(loaded.model.inputs, head.output)
    signature = tf.TensorSpec((1, *spec.input_size, 3), tf.float32)
    if "tf-bfloat16" not in skip:
        started = time.perf_counter()
        fast = runtime.LoadedModel(spec, precision="fast")
        add("tf-bfloat16", fast._tensorflow_raw, time.perf_counter() - started, "bfloat16", "Keras mixed_bfloat16")
        del fast
    if "tf-onednn-amp" not in skip:
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
        rewritten = tf.function(lambda batch: truncated(batch, training=False), input_signature=[signature])
        add("tf-onednn-amp", lambda batch: rewritten(batch).numpy(), 0.0, "bfloat16", "grappler rewrite")
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": False})
    if engines.openvino_installed():
        import openvino

        threads = cpu.usable_cores()
        started = time.perf_counter()
        converted = engines.convert_to_openvino(truncated)
        converted_s = time.perf_counter() - started
        if "ov-float32" not in skip:
            add("ov-float32", engines.compile_openvino(converted, "float32", threads), converted_s, "float32")
        if "ov-bfloat16" not in skip:
            note = "" if settings.native_bf16() else "no native bfloat16: OpenVINO runs float32"
            # As the app builds it: the convolution weights stored in bfloat16 (segdemo.engines).
            with tempfile.TemporaryDirectory(prefix="segdemo-bench-") as scratch:
                started = time.perf_counter()
                openvino.save_model(converted, Path(scratch) / "float32.xml", compress_to_fp16=False)
                engines.save_with_bfloat16_weights(Path(scratch) / "float32.xml", Path(scratch) / "bfloat16.xml")
                halved = openvino.Core().read_model(Path(scratch) / "bfloat16.xml")
                stored_s = converted_s + time.perf_counter() - started
                add("ov-bfloat16", engines.compile_openvino(halved, "bfloat16", threads), stored_s, "bfloat16", note)
        if "ov-int8" not in skip and engines.nncf_installed():
            started = time.perf_counter()
            calibration = engines.calibration_inputs(pixels, lambda image: loaded.pipeline.preprocess(image).batch)
            quantized = engines.quantize_openvino(converted, calibration, engines.INT8_KEPT_IN_FLOAT)
            note = f"{len(calibration)} calibration images; kept in float: {', '.join(engines.INT8_KEPT_IN_FLOAT) or 'nothing'}"
            add("ov-int8", engines.compile_openvino(quantized, "int8", threads), time.perf_counter() - started, "int8", note)
        del openvino
    return {
        "key": key,
        "rows": rows,
        "flags": sorted(settings.cpu_flags() & set(settings.DECIDING_FLAGS)),
    }


def _write_missing_weights(keys: list[str], folder: Path) -> None:
    """Trained-like seeded weights in `folder` for each network whose published file is absent."""
    from bench.published_weights import write_trained_like_weights
    from segdemo import registry, weights

    for key in keys:
        if not weights.available(registry.get(key)):
            write_trained_like_weights(key, folder)


def library_seconds(key: str, python: Path, repeats: int, work: Path) -> float | None:
    """The library's predict() on END_TO_END_PHOTO (median of `repeats`), or None when its environment is missing."""
    from bench.keras_segmentation_reference import NETWORKS, SEED

    if not python.exists():
        print(f"keras-segmentation: no reference environment at {python} (see bench/keras_segmentation_reference.py)")
        return None
    layers, classes, size = NETWORKS[key]
    photo = ROOT / "examples" / "photos" / END_TO_END_PHOTO
    output = work / f"{key}-library.npz"
    command = [str(python), str(ROOT / "bench" / "library_child.py"), "--layers", str(layers), "--classes", str(classes)]
    command += ["--size", str(size), "--seed", str(SEED), "--weights", str(work / f"{key}-library.h5")]
    command += ["--output", str(output), "--time", str(photo), "--repeats", str(repeats)]
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if completed.returncode != 0:
        print(f"keras-segmentation failed on {key}:\n{completed.stderr[-2000:]}")
        return None
    return float(np.median(np.load(output)[f"time/{END_TO_END_PHOTO}"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(KEYS), choices=KEYS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=MODES, help="modes not to measure")
    parser.add_argument("--library", action="store_true", help="time keras-segmentation 0.3.0's predict() too")
    parser.add_argument("--reference-python", type=Path, default=None, help="the library's environment's python")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child, arguments.repeats, arguments.skip)))
        return
    from segdemo import cpu, engines

    # The weights (copies of cached files) and the library's outputs are removed after the run.
    with tempfile.TemporaryDirectory(prefix="segdemo-engines-") as scratch:
        folder = Path(scratch)
        _write_missing_weights(arguments.models, folder)
        environ = {**os.environ, "SEGDEMO_WEIGHTS_DIR": str(folder), "SEGDEMO_PRECISION": "exact", "SEGDEMO_ENGINE": "tensorflow"}
        print(f"usable cores: {cpu.usable_cores()}; load average before: {os.getloadavg()[0]:.1f}")
        header = f"{'network':<18}{'mode':<15}{'s/photo':>8}{'×':>6}{'predict s':>10}{'labels':>9}{'worst':>8}{'top Δ':>8}{'guard':>7}{'prep s':>8}{'RSS MiB':>9}  note"
        for key in arguments.models:
            library = None
            if arguments.library:
                from bench.keras_segmentation_reference import DEFAULT_PYTHON

                library = library_seconds(key, arguments.reference_python or DEFAULT_PYTHON, arguments.repeats, folder)
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.engines",
                    "--child",
                    key,
                    "--repeats",
                    str(arguments.repeats),
                    "--skip",
                    *arguments.skip,
                ],
                capture_output=True,
                text=True,
                env=environ,
            )
            if completed.returncode != 0:
                print(f"{key}: failed\n{completed.stderr[-3000:]}")
                continue
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            print(f"\n{key} (CPU flags: {', '.join(result['flags'])})")
            print(header)
            reference = result["rows"][0]["seconds"]
            if library is not None:
                print(f"{'':<18}{'keras-segm. 0.3':<15}{'':>8}{'':>6}{library:>10.2f}  the library's predict() on the photo file")

            for row in result["rows"]:
                speedup = reference / row["seconds"]
                agreement = engines.Agreement(row["labels"], row["worst_photo"], row["top_difference"])
                exact = row["mode"].endswith("float32")
                passes = agreement.passes(exact) and (speedup > 1 if exact else speedup >= engines.FAST_SPEEDUP)
                print(
                    f"{'':<18}{row['mode']:<15}{row['seconds']:>8.2f}{speedup:>6.2f}{row['end_to_end']:>10.2f}"
                    f"{row['labels']:>9.2%}{row['worst_photo']:>8.2%}{row['top_difference']:>8.4f}"
                    f"{'yes' if passes or row['mode'] == 'tf-float32' else 'no':>7}{row['prepared_s']:>8.1f}{row['rss_mib']:>9.0f}  {row['note']}"
                    + (f" predict {library / row['end_to_end']:.2f}× faster than the library" if library else "")
                )
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
