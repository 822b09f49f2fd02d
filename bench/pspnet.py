"""PSPNet cost on this CPU: seconds per photo, peak memory, and achieved GFLOP/s against the
machine's float32 matmul rate measured in the same run.

Each network runs in its own process (so peak RSS is its own), inside a tf.function with a fixed
input signature, as `segdemo.runtime` runs it. The published weights are used when present;
otherwise random weights of the same shapes (speed does not depend on the values).

Usage: python -m bench.pspnet [--repeats 3] [--models pspnet_ade20k ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

KEYS = ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes")


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 matmul rate through TensorFlow (the same kernels' library)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    (a @ b).numpy()
    started = time.perf_counter()
    for _ in range(repeats):
        (a @ b).numpy()
    seconds = (time.perf_counter() - started) / repeats
    return 2 * size**3 / seconds / 1e9


def measure(key: str, repeats: int) -> dict:
    """Runs in a child process: builds, loads (or randomises), times one network."""
    import tensorflow as tf

    from segdemo import architectures, registry, runtime, weights
    from segdemo.inside import multiply_adds

    spec = registry.get(key)
    if weights.available(spec):
        forward = runtime.get(key, "original")
        model = forward.model
        source = "published weights"
    else:
        model = architectures.build(spec.architecture, **spec.arch_kwargs)
        signature = tf.TensorSpec((1, *spec.input_size, 3), tf.float32)
        traced = tf.function(lambda batch: model(batch, training=False), input_signature=[signature])
        forward = lambda batch: traced(batch).numpy()  # noqa: E731
        source = "random weights"
    batch = np.random.default_rng(0).normal(0, 50, (1, *spec.input_size, 3)).astype(np.float32)
    started = time.perf_counter()
    forward(batch)
    first = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(batch)
        times.append(time.perf_counter() - started)
    seconds = float(np.median(times))
    macs = multiply_adds(model)
    return {
        "key": key,
        "source": source,
        "input": spec.input_size[0],
        "first_s": first,
        "seconds": seconds,
        "gmac": macs / 1e9,
        "gflops": 2 * macs / seconds / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "matmul_gflops": matmul_gflops(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(KEYS), choices=KEYS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child, arguments.repeats)))
        return
    print(
        f"{'model':<20}{'input':>6}{'GMAC':>8}{'first (s)':>11}{'s/photo':>9}{'GFLOP/s':>9}{'of matmul':>11}{'peak RSS':>10}  weights"
    )
    for key in arguments.models:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.pspnet", "--child", key, "--repeats", str(arguments.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        print(
            f"{r['key']:<20}{r['input']:>6}{r['gmac']:>8.0f}{r['first_s']:>11.1f}{r['seconds']:>9.2f}{r['gflops']:>9.0f}"
            f"{r['gflops'] / r['matmul_gflops'] * 100:>10.0f}%{r['peak_rss_mib']:>7.0f} MiB  {r['source']} (matmul {r['matmul_gflops']:.0f} GFLOP/s)"
        )


if __name__ == "__main__":
    main()
