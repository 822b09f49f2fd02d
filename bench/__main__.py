"""Prints per-model warm predict() latency, peak memory, and the app's cold start.

Usage: python -m bench [--repeats 50] [--skip-app]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np


def _inputs_for(spec) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    if spec.family == "eliret":
        return {"32x32": rng.integers(0, 256, (32, 32), dtype=np.uint8), "88x72": rng.integers(0, 256, (72, 88), dtype=np.uint8)}
    if spec.family == "membrane":
        return {"512x512": rng.integers(0, 256, (512, 512), dtype=np.uint8)}
    return {"640x480 RGB": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)}


def bench_predict(repeats: int) -> None:
    import segdemo
    from segdemo import registry, weights

    print(f"{'model':<18}{'input':<14}{'first call (s)':>16}{'median warm (ms)':>18}{'p90 (ms)':>10}")
    for key, spec in registry.REGISTRY.items():
        if not weights.local_path(spec).exists():
            print(f"{key:<18}{'-':<14}{'weights missing':>16}")
            continue
        for label, image in _inputs_for(spec).items():
            started = time.perf_counter()
            segdemo.predict(image, key)
            first = time.perf_counter() - started
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                segdemo.predict(image, key)
                times.append(time.perf_counter() - started)
            times.sort()
            print(
                f"{key:<18}{label:<14}{first:>16.2f}{statistics.median(times) * 1000:>18.1f}{times[int(0.9 * len(times))] * 1000:>10.1f}"
            )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS with every available model used once: {peak_mib:.0f} MiB")


def bench_app(round_trips: int) -> None:
    """Cold start (process start to first HTTP 200), first and warm /predict round trips."""
    import tempfile

    from gradio_client import Client, handle_file
    from PIL import Image

    from bench.app_server import running_app

    with tempfile.TemporaryDirectory() as scratch:
        image = Path(scratch) / "input.png"
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (72, 88), dtype=np.uint8)).save(image)
        with running_app(Path(scratch) / "app.log") as app:
            print(f"app: process start to first HTTP 200: {app.ready_seconds:.1f} s")
            client = Client(app.url, verbose=False)
            started = time.perf_counter()
            client.predict(handle_file(str(image)), "unet", 0.5, api_name="/predict")
            print(f"app: first /predict after the page is up (unet): {time.perf_counter() - started:.2f} s")
            times = []
            for _ in range(round_trips):
                started = time.perf_counter()
                client.predict(handle_file(str(image)), "unet", 0.5, api_name="/predict")
                times.append(time.perf_counter() - started)
            print(f"app: gradio_client /predict round trip, median of {round_trips}: {statistics.median(times) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--skip-app", action="store_true")
    arguments = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}")
    if not arguments.skip_app:
        bench_app(round_trips=20)
    bench_predict(arguments.repeats)


if __name__ == "__main__":
    main()
