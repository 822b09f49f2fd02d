"""segdemo's `keras_segmentation` pipeline against keras-segmentation 0.3.0's own predict().

Needs the lecture's library in a separate environment (not a project dependency):

    python3.11 -m venv ../refenv   # beside the checkout, outside the project
    ../refenv/bin/pip install tensorflow-cpu==2.15.1 keras-segmentation==0.3.0

`bench/library_child.py` runs there: it builds the library's PSPNet, gives it seeded weights
(bench/seeded_weights.py), saves them with the library's `save_weights` (the published files'
Keras-2 layout) and records its preprocessing, labels and top probabilities for each shipped
photo (non-square ones, decoded once here and handed over as pixels). This script then loads
that weight file through segdemo's own loader and runs `predict(..., pipeline="keras_segmentation")`
on the same pixels, and prints per photo: whether the network inputs are identical, the share of
equal labels at network resolution and at the photo's resolution (the library's labels enlarged
by nearest neighbour), and the largest top-probability difference.

Usage: python -m bench.keras_segmentation_reference [--reference-python ../refenv/bin/python]
    [--models pspnet_ade20k pspnet_voc] [--work /tmp/segdemo_reference] [--reuse] [--fixture FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# The reference environment beside the checkout (SEGDEMO_REFERENCE_PYTHON names another).
DEFAULT_PYTHON = Path(
    os.environ.get("SEGDEMO_REFERENCE_PYTHON", Path(__file__).resolve().parents[2] / "refenv" / "bin" / "python")
)
SEED = 1
FIXTURE_PHOTOS = ["voc_horse_rider"]
NETWORKS = {"pspnet_ade20k": (50, 150, 473), "pspnet_voc": (101, 21, 473), "pspnet_cityscapes": (101, 19, 713)}


def decoded_photos() -> dict[str, np.ndarray]:
    """The shipped photos as segdemo decodes them, in BGR order (what the library's cv2 code expects)."""
    from segdemo import images, samples

    return {
        photo.image.stem: np.ascontiguousarray(images.to_rgb(images.load(photo.image))[..., ::-1]) for photo in samples.photos()
    }


def run_reference(python: Path, key: str, work: Path, photos_file: Path, reuse: bool) -> tuple[Path, Path]:
    """Runs the library in its environment; returns (its weight file, its record)."""
    layers, classes, size = NETWORKS[key]
    weights_file = work / key / _published_name(key)
    record = work / f"{key}.library.npz"
    if reuse and weights_file.is_file() and record.is_file():
        return weights_file, record
    weights_file.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(ROOT / "bench" / "library_child.py"), "--layers", str(layers), "--classes", str(classes)]
    command += ["--size", str(size), "--seed", str(SEED), "--photos", str(photos_file), "--weights", str(weights_file)]
    subprocess.run([*command, "--output", str(record)], check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    return weights_file, record


def _published_name(key: str) -> str:
    from segdemo import registry

    return registry.get(key).weights_file


def compare(key: str, weights_file: Path, record_file: Path, photos: dict[str, np.ndarray]) -> list[dict]:
    """segdemo's keras_segmentation pipeline on the same pixels and weights as the library."""
    os.environ["SEGDEMO_WEIGHTS_DIR"] = str(weights_file.parent)
    os.environ["SEGDEMO_OFFLINE"] = "1"
    from segdemo import registry, runtime

    runtime.clear()
    spec = registry.get(key)
    pipeline = spec.pipeline("keras_segmentation")
    loaded = runtime.get(key, "keras_segmentation")
    record = np.load(record_file)
    rows = []
    for name, bgr in photos.items():
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        prepared = pipeline.preprocess(rgb)
        probabilities = loaded(prepared.batch)[0]
        ours = probabilities.argmax(axis=-1)
        theirs = record[f"{name}/labels"].astype(np.int64)
        dense = pipeline.postprocess(probabilities[None], prepared)  # what predict() does after the network
        enlarged = cv2.resize(theirs.astype(np.int32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        rows.append(
            {
                "photo": name,
                "size": f"{rgb.shape[1]}x{rgb.shape[0]}",
                "input_max_diff": float(np.abs(prepared.batch[0] - record[f"{name}/input"]).max()),
                "labels_equal": float((ours == theirs).mean()),
                "photo_labels_equal": float((dense.labels == enlarged).mean()),
                "top_max_diff": float(np.abs(probabilities.max(axis=-1) - record[f"{name}/top"]).max()),
            }
        )
    return rows


def write_fixture(path: Path, record_file: Path, names: list[str]) -> None:
    """The CI fixture (tests/test_keras_segmentation.py): for each named photo, the library's
    network input as the 8-bit image it resized (its float input is exactly that image minus the
    means, channels flipped; checked here), kept as a digest and every 16th row, and its labels
    at network resolution."""
    record = np.load(record_file)
    fixture = {}
    mean = np.float32([103.939, 116.779, 123.68])
    for name in names:
        library_input = record[f"{name}/input"]
        resized = np.rint(library_input[..., ::-1] + mean).astype(np.uint8)
        if not np.array_equal(resized.astype(np.float32) - mean, library_input[..., ::-1]):
            raise ValueError(f"{name}: the library's input is not an 8-bit image minus the means")
        # The whole image's digest, and every 16th row for a readable difference when it fails.
        fixture[f"{name}/resized_sha256"] = np.asarray(hashlib.sha256(resized.tobytes()).hexdigest())
        fixture[f"{name}/resized_rows"] = resized[::16]
        fixture[f"{name}/labels"] = record[f"{name}/labels"].astype(np.uint8)
    np.savez_compressed(path, **fixture)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", type=Path, default=DEFAULT_PYTHON)
    parser.add_argument("--models", nargs="+", default=["pspnet_ade20k", "pspnet_voc"], choices=list(NETWORKS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/segdemo_reference"))
    parser.add_argument("--reuse", action="store_true", help="reuse the library's outputs from an earlier run")
    parser.add_argument("--fixture", type=Path, help="also write the CI fixture (PSPNet-50 on a shipped photo) here")
    arguments = parser.parse_args()
    if not arguments.reference_python.is_file():
        print(f"no reference environment at {arguments.reference_python}; see this script's docstring")
        return
    arguments.work.mkdir(parents=True, exist_ok=True)
    photos = decoded_photos()
    photos_file = arguments.work / "photos.npz"
    np.savez(photos_file, **photos)
    print(f"{'model':<16}{'photo':<20}{'size':>10}{'input diff':>12}{'labels =':>10}{'at photo':>10}{'top diff':>10}")
    for key in arguments.models:
        weights_file, record_file = run_reference(arguments.reference_python, key, arguments.work, photos_file, arguments.reuse)
        for row in compare(key, weights_file, record_file, photos):
            print(
                f"{key:<16}{row['photo']:<20}{row['size']:>10}{row['input_max_diff']:>12.2e}{row['labels_equal'] * 100:>9.3f}%"
                f"{row['photo_labels_equal'] * 100:>9.3f}%{row['top_max_diff']:>10.2e}"
            )
        if arguments.fixture and key == "pspnet_ade20k":
            write_fixture(arguments.fixture, record_file, FIXTURE_PHOTOS)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
