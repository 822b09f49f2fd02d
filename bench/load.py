"""A bounded load test of the real app: many gradio_client threads calling /predict at once.

Usage: python -m bench.load [--threads 16] [--requests 5] [--time-limit 180]

Starts app.py on 127.0.0.1 and a free port, warms each small model once (timed apart),
then runs THREADS threads × REQUESTS requests over the small models that have weights,
alternating a 32×32 (eliret) and an 88×72 input. Prints requests, failures, latency
percentiles, throughput and the app process's peak RSS. Figures are printed, not asserted:
zero failures is a pass. Everything stops after --time-limit seconds at the latest.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from bench.app_server import running_app
from segdemo import registry, weights

SMALL_MODELS = ("fcn", "unet", "fcn_aug", "unet_aug")
INPUT_SIZES = {"32x32": (32, 32), "88x72": (72, 88)}  # name -> (height, width)
THRESHOLD = 0.5


@dataclass
class Outcome:
    """One request: which model and input, how long it took, and its error if it failed."""

    model: str
    input_name: str
    seconds: float
    error: str | None = None


def available_models() -> list[str]:
    """The small models whose trained weights are on this machine."""
    return [key for key in SMALL_MODELS if key in registry.REGISTRY and weights.local_path(registry.REGISTRY[key]).exists()]


def make_inputs(folder: Path) -> dict[str, Path]:
    """Eliret-like grey PNGs (a dark disk on a noisy light background), one per input size."""
    rng = np.random.default_rng(0)
    paths = {}
    for name, (height, width) in INPUT_SIZES.items():
        rows, cols = np.mgrid[:height, :width]
        disk = (rows - height / 2) ** 2 + (cols - width / 3) ** 2 <= (min(height, width) / 4) ** 2
        pixels = np.where(disk, 70, 180) + rng.normal(0, 20, (height, width))
        paths[name] = folder / f"load_{name}.png"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(paths[name])
    return paths


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB; NaN once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    return float("nan")  # a zombie: the process has exited


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process and its waited-for children have used so far, in
    seconds; NaN once it has been reaped. Read from /proc/PID/stat (fields 14-17, in clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> dict[str, float]:
    """This machine's CPU time so far, all cores together, in seconds: `busy` (user, nice, system,
    interrupts), `idle` (with I/O wait) and `steal` (time the hypervisor gave another machine while
    this one wanted the CPU), from the first line of /proc/stat; empty off Linux."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        user, nice, system, idle, iowait, irq, softirq, steal = fields
    except (OSError, ValueError, IndexError):
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    return {"busy": (user + nice + system + irq + softirq) / tick, "idle": (idle + iowait) / tick, "steal": steal / tick}


def timed_request(client: Client, model: str, input_name: str, path: Path, timeout_s: float) -> Outcome:
    """One /predict call, bounded by `timeout_s`; a wrong answer counts as a failure."""
    started = time.perf_counter()
    try:
        _, summary = client.submit(handle_file(str(path)), model, THRESHOLD, api_name="/predict").result(timeout=timeout_s)
        error = None if summary.get("model") == model else f"unexpected summary {summary}"
    except Exception as exception:  # noqa: BLE001 - every failure is counted and reported
        error = f"{type(exception).__name__}: {exception}"
    return Outcome(model, input_name, time.perf_counter() - started, error)


def warm_up(url: str, models: list[str], inputs: dict[str, Path]) -> dict[str, float]:
    """The first request per model (it loads TensorFlow and the weights), in seconds."""
    client = Client(url, verbose=False)
    first_input = next(iter(inputs))
    return {model: timed_request(client, model, first_input, inputs[first_input], 120).seconds for model in models}


def run_load(
    url: str, models: list[str], inputs: dict[str, Path], threads: int, requests: int, deadline: float
) -> tuple[list[Outcome], float]:
    """THREADS clients × REQUESTS requests, all started together; returns outcomes and wall time."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    input_names = list(inputs)

    def worker(index: int) -> None:
        client = Client(url, verbose=False)
        start.wait()
        for number in range(requests):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            model = models[(index + number) % len(models)]
            input_name = input_names[(index + number) % len(input_names)]
            outcome = timed_request(client, model, input_name, inputs[input_name], remaining)
            with lock:
                outcomes.append(outcome)

    workers = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    return outcomes, time.perf_counter() - started


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def report(
    outcomes: list[Outcome], planned: int, wall_s: float, warm: dict[str, float], rss_before: float, rss_peak: float
) -> None:
    """Prints the figures."""
    failures = [outcome for outcome in outcomes if outcome.error]
    latencies = [outcome.seconds for outcome in outcomes if not outcome.error]
    print(
        "first request per model (loads TensorFlow / the weights): "
        + ", ".join(f"{model} {seconds:.2f} s" for model, seconds in warm.items())
    )
    print(f"requests:    {len(outcomes)} of {planned} planned ({planned - len(outcomes)} not started before the time limit)")
    print(f"failures:    {len(failures)}")
    for failure in failures[:5]:
        print(f"  {failure.model} {failure.input_name}: {failure.error[:300]}")
    print(
        f"latency:     p50 {percentile_ms(latencies, 50):.0f} ms, p90 {percentile_ms(latencies, 90):.0f} ms, "
        f"p99 {percentile_ms(latencies, 99):.0f} ms, max {max(latencies, default=float('nan')) * 1000:.0f} ms"
    )
    print(f"throughput:  {len(latencies) / wall_s:.1f} requests/s over {wall_s:.1f} s")
    print(f"server RSS:  {rss_before:.0f} MiB peak before the load, {rss_peak:.0f} MiB peak (VmHWM) after it")
    print("PASS: no failed request" if not failures and len(outcomes) == planned else "FAIL: see above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--requests", type=int, default=5, help="requests per thread")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds for warm-up and load together")
    arguments = parser.parse_args()
    models = available_models()
    if not models:
        raise SystemExit("no small model has weights in weights/")
    with tempfile.TemporaryDirectory(prefix="segdemo-load-") as folder, running_app(Path(folder) / "app.log") as app:
        deadline = time.monotonic() + arguments.time_limit
        inputs = make_inputs(Path(folder))
        print(f"app pid {app.pid} at {app.url}; models {', '.join(models)}; inputs {', '.join(inputs)}")
        print(f"{arguments.threads} threads × {arguments.requests} requests, at most {arguments.time_limit:.0f} s")
        warm = warm_up(app.url, models, inputs)
        rss_before = peak_rss_mib(app.pid)
        outcomes, wall_s = run_load(app.url, models, inputs, arguments.threads, arguments.requests, deadline)
        report(outcomes, arguments.threads * arguments.requests, wall_s, warm, rss_before, peak_rss_mib(app.pid))
        if app.process.poll() is not None:
            print(f"the app exited with status {app.process.returncode} during the run")
        if app.process.poll() is not None or any(outcome.error for outcome in outcomes):
            print(f"--- the app's log, last lines ---\n{app.log_tail(4000)}")


if __name__ == "__main__":
    main()
