"""Re-rendering a PSPNet result from the output cache, and predict() with and without a cache hit.

A random-weight PSPNet in the published layout is written into a temporary weights folder
(speed does not depend on the values), a 1280×853 photo goes through it once, and then:

- re-render: what the app does when the threshold, the opacity or the highlighted class moves,
  or when the other pipeline's cached result is shown: `render_prediction` (labels at the
  threshold, class areas, overlay), the legend (area and mean confidence per class) and, for a
  highlight, the overlay with the other classes faded. Target: under 150 ms.
- predict(): the first call (loads the network), a new image (a cache miss: the network runs)
  and the same image again (a hit: only the render runs). Target on a hit: under 50 ms.

Usage: python -m bench.rerender [--model pspnet_ade20k] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 853


def photo(seed: int = 0) -> np.ndarray:
    """A shipped street photo at 1280×853 (a fresh noise pattern per seed, so each is a new image)."""
    import cv2

    from segdemo import images

    source = images.to_rgb(images.load(str(ROOT / "examples" / "photos" / "city_nyc_street.jpg")))
    resized = cv2.resize(source, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-3, 4, resized.shape)
    return np.clip(resized + noise, 0, 255).astype(np.uint8)


def timed(function, repeats: int) -> list[tuple[float, float]]:
    """(wall-clock seconds, this thread's CPU seconds) per call: on a shared machine the wall clock
    also counts the time other processes held the cores; the CPU time is what the work costs."""
    seconds = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        function()
        seconds.append((time.perf_counter() - wall, time.thread_time() - cpu))
    return seconds


def line(name: str, seconds: list[tuple[float, float]], target_ms: float | None = None, single_thread: bool = True) -> str:
    """One row of figures. `single_thread`: the work runs in this thread (numpy), so its CPU time is
    its cost; a network run also uses TensorFlow's own threads, which thread_time does not see."""
    wall = sorted(value for value, _ in seconds)
    cpu = statistics.median(value for _, value in seconds) * 1000
    median = statistics.median(wall) * 1000
    p90 = wall[min(len(wall) - 1, int(0.9 * len(wall)))] * 1000
    cpu_text = f"{cpu:8.1f} ms" if single_thread else "     n/a   "
    verdict = ""
    if target_ms is not None:
        verdict = f"  wall {'PASS' if median < target_ms else 'FAIL'}, CPU {'PASS' if cpu < target_ms else 'FAIL'} (< {target_ms:.0f} ms)"
    return f"{name:48s} wall median {median:8.1f} ms  p90 {p90:8.1f} ms  | CPU median {cpu_text}{verdict}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pspnet_ade20k", help="a PSPNet key (default: the 150-class ADE20K network)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="segdemo-rerender-"))
    os.environ["SEGDEMO_WEIGHTS_DIR"] = str(folder)
    os.environ["SEGDEMO_CACHE_DIR"] = str(folder / "cache")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import segdemo
    from bench.published_weights import write_random_published_weights
    from segdemo import images, maps, registry
    from segdemo.output_cache import CACHE
    from segdemo.predict import network_outputs, render_prediction

    spec = registry.get(args.model)
    started = time.perf_counter()
    write_random_published_weights(args.model, folder)
    print(
        f"CPU cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other processes share the cores); model {args.model} ({len(spec.classes)} classes), random weights in the published layout "
        f"(written in {time.perf_counter() - started:.1f} s); photo {WIDTH}×{HEIGHT}"
    )

    pixels = photo(0)
    first = timed(lambda: segdemo.predict(pixels, args.model, 0.0), 1)
    misses = CACHE.misses
    fresh = [photo(seed) for seed in range(1, 4)]
    miss = [timed(lambda image=image: segdemo.predict(image, args.model, 0.0), 1)[0] for image in fresh]
    assert CACHE.misses == misses + len(fresh), "every new photo should have missed the cache"
    hits = CACHE.hits
    hit = timed(lambda: segdemo.predict(pixels, args.model, 0.3, opacity=0.4), args.repeats)
    assert CACHE.hits == hits + args.repeats, "the same photo should have hit the cache every time"

    rgb = images.to_rgb(pixels)
    outputs = {name: network_outputs(pixels, spec, name)[0] for name in spec.pipeline_names}
    for_original = outputs[spec.default_pipeline.name]
    thresholds = iter(np.linspace(0.05, 0.6, 10_000))
    opacities = iter(np.linspace(0.2, 0.9, 10_000))

    def rerender(outputs_of_pipeline, threshold=0.0, opacity=0.55, highlight=None):
        result = render_prediction(pixels, spec, outputs_of_pipeline, threshold, opacity)
        legend = maps.legend_entries(result.labels, result.scores, spec.classes, spec.palette)
        if highlight is not None:
            maps.overlay(rgb, result.labels, spec.palette, opacity, highlight=highlight)
        return legend

    largest = rerender(for_original)[0].index
    other_pipeline = [name for name in spec.pipeline_names if name != spec.default_pipeline.name]
    rows = [
        ("re-render: threshold moved", timed(lambda: rerender(for_original, threshold=next(thresholds)), args.repeats)),
        ("re-render: opacity moved", timed(lambda: rerender(for_original, opacity=next(opacities)), args.repeats)),
        ("re-render: class highlighted", timed(lambda: rerender(for_original, highlight=largest), args.repeats)),
    ]
    if other_pipeline:
        rows.append(
            (
                f"re-render: {other_pipeline[0]} pipeline (cached)",
                timed(lambda: rerender(outputs[other_pipeline[0]]), args.repeats),
            )
        )
    print()
    for name, seconds in rows:
        print(line(name, seconds, target_ms=150))
    print()
    print(line("predict(): first call (loads the network)", first, single_thread=False))
    print(line("predict(): new photo, cache miss", miss, single_thread=False))
    print(line("predict(): same photo, cache hit", hit, target_ms=50))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
