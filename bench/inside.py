"""Time of every view of the "Look inside" tab (segdemo.inside), warm (after one call), median of a few.

Targets (issue 14): each view of a small model within 2 s on this CPU; the pyramid views within
one PSPNet inference plus 1 s. The published PSPNet weights are used when present; otherwise a
PSPNet-50 with random weights of the published shapes is written to a temporary weights folder
(speed does not depend on the values).

Usage: python -m bench.inside [--repeats 3] [--skip-pspnet]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_seconds(call, repeats: int) -> tuple[float, float]:
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times)


def _row(name: str, first: float, warm: float, target: str) -> None:
    print(f"{name:<44}{first:>10.2f}{warm:>12.3f}   {target}")


def bench_small(repeats: int) -> None:
    from segdemo import inside, samples

    eliret = str(samples.lecture_test_images()[0].image)
    membrane = str(samples.membrane_labelled()[0].image)
    print(f"{'view':<44}{'first (s)':>10}{'median (s)':>12}   target")
    for key, image, layer in (
        ("unet", eliret, "down2_conv2"),
        ("fcn", eliret, "up2"),
        ("membrane_unet", membrane, "up1_relu2"),
        ("membrane_unet", membrane, "down4_relu2"),
    ):
        first, warm = _median_seconds(lambda: inside.feature_maps(image, key, layer), repeats)
        _row(f"feature maps {key} {layer}", first, warm, "≤ 2 s")
    for key in ("unet", "membrane_unet"):
        first, warm = _median_seconds(lambda: inside.layers_of(key), repeats)
        _row(f"layer list {key}", first, warm, "≤ 2 s")
    for family, image in (("eliret", eliret), ("membrane", membrane)):
        first, warm = _median_seconds(lambda: inside.skip_comparison(image, family), repeats)
        _row(f"skip comparison {family}", first, warm, "≤ 2 s")
    for operation in inside.OPERATIONS:
        first, warm = _median_seconds(lambda: inside.building_block_picture(inside.EXAMPLE_IMAGE, operation), repeats)
        _row(f"building block {operation}", first, warm, "≤ 2 s")
    for key in ("unet", "membrane_unet"):
        started = time.perf_counter()
        inside.model_card(key)
        _row(f"model card {key} (computed once, then kept)", time.perf_counter() - started, 0.0, "≤ 2 s")


def bench_pspnet(repeats: int, key: str = "pspnet_ade20k") -> None:
    from segdemo import inside, registry, runtime, samples, weights

    spec = registry.get(key)
    label = "published weights"
    if not weights.available(spec):
        from bench.published_weights import write_random_published_weights

        folder = Path(tempfile.mkdtemp(prefix="bench-inside-"))
        write_random_published_weights(key, folder, seed=0)
        os.environ["SEGDEMO_WEIGHTS_DIR"] = str(folder)
        os.environ["SEGDEMO_CACHE_DIR"] = str(folder / "cache")
        runtime.clear()
        label = "random weights"
    photos = [str(photo.image) for photo in samples.photos("pspnet_ade20k")] or [np.zeros((480, 640, 3), np.uint8)]
    loaded = runtime.get(key)
    prepared = spec.default_pipeline.preprocess(inside.images.load(photos[0]))
    first, inference = _median_seconds(lambda: loaded(prepared.batch), repeats)
    print(f"\n{key} ({label}); one inference at {spec.input_size[0]}: median {inference:.2f} s (first {first:.2f} s)")
    print(f"{'view':<44}{'first (s)':>10}{'median (s)':>12}   target")
    target = f"≤ {inference + 1:.2f} s (inference + 1 s)"
    # A new photo each time: the network runs (the cache holds the last two photos only).
    times = []
    for index in range(repeats + 1):
        photo = inside.images.load(photos[index % len(photos)])
        photo = np.ascontiguousarray(np.roll(photo, index, axis=1))  # never a cached photo
        started = time.perf_counter()
        view = inside.pyramid(photo, key, off=(1,))
        times.append(time.perf_counter() - started)
    _row("pyramid, new photo (branches, maps, table)", times[0], statistics.median(times[1:]), target)
    print(f"{'':<44}of which the network up to the concatenation: {view.network_seconds:.2f} s")
    first, warm = _median_seconds(lambda: inside.pyramid(photo, key, off=(2, 3)), repeats)
    _row("pyramid, same photo, other branches off", first, warm, "≤ 1 s")
    first, warm = _median_seconds(lambda: inside.receptive_field(photo, key), repeats)
    _row("receptive field", first, warm, target)


def print_fields() -> None:
    """Receptive field of one cell of each PSPNet's 1/8 feature map, from the layers' configurations."""
    from segdemo import inside, registry

    print(f"\n{'receptive field of a 1/8 cell':<32}{'input':>7}{'with dilations':>16}{'without':>10}")
    for key in registry.keys("pspnet"):
        dilated, plain, side = inside.pspnet_fields(key)
        print(f"{key:<32}{registry.get(key).input_size[0]:>7}{dilated.size:>13} px{plain.size:>7} px")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pspnet", action="store_true")
    arguments = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}")
    bench_small(arguments.repeats)
    if not arguments.skip_pspnet:
        bench_pspnet(arguments.repeats)
        print_fields()


if __name__ == "__main__":
    main()
