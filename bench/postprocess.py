"""PSPNet postprocessing of a 1280×853 photo: resizing every class (the old way) against resizing only
the classes that can win (PSPNetPipeline.postprocess), for the 21 VOC, 150 ADE20K and 19 Cityscapes classes.

Usage: python -m bench.postprocess [--repeats 3] [--network] [--regions 8]

By default the probabilities are network-like maps (a few classes own blob-shaped regions over
smooth noise, enlarged from 1/8 resolution as PSPNet does; --regions sets how many, up to a
cluttered scene where most of ADE20K's classes meet); --network runs each PSPNet with random
weights in the published layout on a shipped photo instead (slower: each network is built and run).
Prints the median time of each way (after one untimed call), the speed-up, and whether labels and top probabilities agree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segdemo import images, registry, samples

PHOTO_SIZE = (853, 1280)  # height, width
KEYS = ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes")


def _resized(array: np.ndarray, height: int, width: int) -> np.ndarray:
    parts = [cv2.resize(np.ascontiguousarray(array[..., s : s + 32]), (width, height)) for s in range(0, array.shape[-1], 32)]
    return np.concatenate([part.reshape(height, width, -1) for part in parts], axis=-1)


def network_like(rng: np.random.Generator, height: int, width: int, classes: int, regions: int = 8) -> np.ndarray:
    """Softmax probabilities in which `regions` classes own blob-shaped regions over smooth noise."""
    small = (height // 8 + 2, width // 8 + 2)
    chosen = rng.choice(classes, min(regions, classes), replace=False)
    blobs = _resized(rng.normal(0.0, 1.0, (4, 6, len(chosen))).astype(np.float32), *small)
    logits = rng.normal(0.0, 1.0, (*small, classes)).astype(np.float32)
    logits[..., chosen] += 5.0 * (blobs == blobs.max(axis=-1, keepdims=True))
    logits = _resized(logits, height, width)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)


def _photo() -> np.ndarray:
    """A shipped photo at 1280×853 (random pixels where none is shipped)."""
    photos = samples.photos("pspnet_ade20k")
    if not photos:
        return np.random.default_rng(0).integers(0, 256, (*PHOTO_SIZE, 3), dtype=np.uint8)
    pixels = images.to_rgb(images.load(str(photos[0].image)))
    return cv2.resize(pixels, PHOTO_SIZE[::-1], interpolation=cv2.INTER_AREA)


def _network_output(key: str, batch: np.ndarray, folder: Path) -> np.ndarray:
    from bench.published_weights import write_random_published_weights
    from segdemo import runtime

    write_random_published_weights(key, folder, seed=0)
    spec = registry.get(key)
    loaded = runtime.get(key, spec.pipeline("original").name)
    raw = np.asarray(loaded(batch))
    runtime.clear()  # one network in memory at a time
    return raw


def _median_seconds(function, repeats: int) -> tuple[float, object]:
    """The median time of `repeats` calls after one untimed call (first-call imports and allocations)."""
    times, result = [], function()
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--network", action="store_true", help="random-weight PSPNet outputs instead of network-like maps")
    parser.add_argument("--regions", type=int, default=8, help="classes that own regions in the network-like maps")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-postprocess-") as scratch:
        run(arguments, Path(scratch))


def run(arguments: argparse.Namespace, folder: Path) -> None:
    """Prints the table; random weights (with --network) are written into `folder`."""
    photo = _photo()
    if arguments.network:
        os.environ["SEGDEMO_WEIGHTS_DIR"] = str(folder)
        os.environ["SEGDEMO_CACHE_DIR"] = str(folder / "cache")
    source = "random-weight PSPNet outputs on a shipped photo" if arguments.network else "network-like probability maps"
    print(f"photo {PHOTO_SIZE[1]}×{PHOTO_SIZE[0]}, {source}, median of {arguments.repeats}, {os.cpu_count()} CPU cores")
    print(
        f"{'network':<20}{'classes':>8}{'top classes':>12}{'every class (s)':>17}{'can-win only (s)':>18}{'speed-up':>10}   same result"
    )
    for key in KEYS:
        spec = registry.get(key)
        pipeline = spec.pipeline("original")
        prepared = pipeline.preprocess(photo)
        if arguments.network:
            raw = _network_output(key, prepared.batch, folder)
        else:
            raw = np.zeros((1, pipeline.input_size, pipeline.input_size, len(spec.classes)), np.float32)
            raw[0, : prepared.valid[0], : prepared.valid[1]] = network_like(
                np.random.default_rng(0), *prepared.valid, len(spec.classes), regions=arguments.regions
            )
        top_classes = len(np.unique(np.argmax(raw[0, : prepared.valid[0], : prepared.valid[1]], axis=-1)))
        old_s, old = _median_seconds(lambda: pipeline.postprocess(raw, prepared, resize_every_class=True), arguments.repeats)
        new_s, new = _median_seconds(lambda: pipeline.postprocess(raw, prepared), arguments.repeats)
        same = np.array_equal(old.labels, new.labels) and float(np.max(np.abs(old.scores - new.scores))) <= 1e-5
        print(
            f"{key:<20}{len(spec.classes):>8}{top_classes:>12}{old_s:>17.3f}{new_s:>18.3f}{old_s / new_s:>9.1f}×   "
            f"{'yes' if same else 'NO: labels or probabilities differ'}"
        )


if __name__ == "__main__":
    main()
