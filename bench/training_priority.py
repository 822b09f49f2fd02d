"""Inference latency while a live training runs (the Train tab), and the epoch times behind its caps.

Usage: python -m bench.training_priority [--requests 20] [--model unet] [--skip-app] [--skip-epochs]

1. Epoch times: for the FCN and the U-Net, with and without augmentation, the first epoch (which
   builds the training graph) and the median of the next ones; the time of a run at the cap
   (`segdemo.live_training.EPOCH_CAPS`).
2. In this process: the latency of one inference (the membrane U-Net on a 512×512 slice, the
   heaviest binary model, with its pre- and postprocessing) when idle and while a training runs:
   - "no priority": the training runs flat out;
   - "pause at batch end" (what the app does): the training sleeps at the end of each batch while
     an inference runs or waits (the app asks its queues; here the probe raises a flag);
   - "thread budget": the training runs in a child process limited to one TensorFlow thread of
     each kind and pinned to one core, leaving the other core to inference. TensorFlow's thread
     pools are set once per process, before it starts, and are shared by every model in it: a
     budget for the training alone needs its own process.
3. Through the running app (gradio_client): /compare on maior2 with the FCN and the U-Net, idle
   and while a /train runs, as a student sees it.
Each probe waits a random 0.1–0.4 s before the next (students do not send back to back). Target:
median latency during training at most 1.5× idle. Figures are printed, never asserted; the
machine may be shared, so idle is measured before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5

_CHILD = """
import os, sys
os.sched_setaffinity(0, {CORE})
from segdemo import live_training
request = live_training.TrainingRequest({MODEL!r}, False, live_training.EPOCH_CAPS[{MODEL!r}], 1)
for update in live_training.train(request):
    print("epoch", update.epoch, flush=True)
"""


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


def epoch_times() -> None:
    from segdemo import live_training

    print("Epoch times (100 pairs; the first epoch includes building the training graph). Wall-clock seconds, and the")
    print("process's CPU seconds (all threads): on an idle 2-core machine an epoch takes between CPU/2 and CPU seconds.")
    print(
        f"{'network':<9}{'augm.':<7}{'first':>7}{'first CPU':>10}{'next':>8}{'next CPU':>10}{'cap':>5}{'at cap':>8}{'at cap, CPU':>12}"
    )
    for model in live_training.ARCHITECTURES:
        for augmentation in (False, True):
            request = live_training.TrainingRequest(model, augmentation, 6, 1)
            stamps, cpu = [time.perf_counter()], [time.process_time()]
            for _ in live_training.train(request):
                stamps.append(time.perf_counter())
                cpu.append(time.process_time())
            durations, cpu_durations = np.diff(stamps), np.diff(cpu)
            first, rest = float(durations[0]), float(np.median(durations[1:]))
            first_cpu, rest_cpu = float(cpu_durations[0]), float(np.median(cpu_durations[1:]))
            cap = live_training.EPOCH_CAPS[model]
            print(
                f"{model:<9}{str(augmentation):<7}{first:>7.1f}{first_cpu:>10.1f}{rest:>8.2f}{rest_cpu:>10.2f}{cap:>5}"
                f"{first + (cap - 1) * rest:>8.0f}{first_cpu + (cap - 1) * rest_cpu:>12.0f}",
                flush=True,
            )


class Probe:
    """One inference of the membrane U-Net on a 512×512 image, as predict() runs it without the cache."""

    def __init__(self) -> None:
        from segdemo import registry, runtime, samples

        self.spec = registry.get("membrane_unet")
        self.loaded = runtime.get("membrane_unet")
        from segdemo import images

        self.pixels = images.load(samples.membrane_labelled()[0].image)
        self.busy = threading.Event()
        self()  # traced once

    def __call__(self) -> float:
        self.busy.set()  # the app's equivalent: an inference request running or queued
        try:
            started = time.perf_counter()
            pipeline = self.spec.default_pipeline
            prepared = pipeline.preprocess(self.pixels)
            pipeline.postprocess(self.loaded(prepared.batch), prepared)
            return time.perf_counter() - started
        finally:
            self.busy.clear()


def probe_series(probe, requests: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    latencies = []
    for _ in range(requests):
        time.sleep(float(rng.uniform(0.1, 0.4)))
        latencies.append(probe())
    return latencies


def in_process(requests: int, model: str) -> dict[str, list[float]]:
    from segdemo import live_training

    probe = Probe()
    results = {"idle (before)": probe_series(probe, requests, 0)}
    for name, yield_to in (("no priority", None), ("pause at batch end", probe.busy.is_set)):
        stop = threading.Event()
        first_epoch = threading.Event()
        request = live_training.TrainingRequest(model, False, live_training.EPOCH_CAPS[model], 1)

        def consume(request=request, stop=stop, first_epoch=first_epoch, yield_to=yield_to):
            for _ in live_training.train(request, stop, yield_to):
                first_epoch.set()

        worker = threading.Thread(target=consume, daemon=True)
        worker.start()
        first_epoch.wait()
        results[name] = probe_series(probe, requests, 1)
        stop.set()
        worker.join()
    core = {max(os.sched_getaffinity(0))}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(CORE=core, MODEL=model)],
        cwd=ROOT,
        env=dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        while not child.stdout.readline().startswith("epoch"):
            if child.poll() is not None:
                raise RuntimeError("the thread-budget training child exited early")
        results[f"thread budget (child: 1+1 threads on core {min(core)})"] = probe_series(probe, requests, 2)
    finally:
        child.terminate()
        child.wait(timeout=30)
    results["idle (after)"] = probe_series(probe, requests, 3)
    return results


def through_app(requests: int, model: str) -> dict[str, list[float]]:
    from gradio_client import Client, handle_file

    from bench.app_server import running_app

    image = handle_file(str(ROOT / "examples" / "eliret" / "maior2x.png"))
    with running_app(Path("/tmp") / "segdemo_training_priority_app.log") as app:
        student, trainer = Client(app.url, verbose=False), Client(app.url, verbose=False)

        def one() -> float:
            started = time.perf_counter()
            student.predict(image, None, ["fcn", "unet"], 0.5, api_name="/compare")
            return time.perf_counter() - started

        one()  # loads the models
        results = {"idle (before)": probe_series(one, requests, 0)}
        from segdemo import live_training

        job = trainer.submit(model, False, live_training.EPOCH_CAPS[model], 1, "random", api_name="/train")
        while not any("Epoch" in str(output[2]) for output in job.outputs()):
            time.sleep(0.2)
        results["during a /train (pause at batch end)"] = probe_series(one, requests, 1)
        trainer.predict(api_name="/stop_training")
        job.result(timeout=120)
        results["idle (after)"] = probe_series(one, requests, 2)
    return results


def report(title: str, results: dict[str, list[float]]) -> None:
    idle = statistics.median(results["idle (before)"] + results["idle (after)"])
    print(f"\n{title}")
    for name, latencies in results.items():
        ratio = statistics.median(latencies) / idle
        verdict = "" if name.startswith("idle") else ("  meets ≤ 1.5× idle" if ratio <= TARGET_RATIO else "  misses 1.5× idle")
        print(f"  {name:<44}{percentiles(latencies)}   {ratio:4.2f}× idle{verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.training_priority", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20, help="probes per phase")
    parser.add_argument("--model", choices=("fcn", "unet"), default="unet", help="network trained during the probes")
    parser.add_argument("--skip-app", action="store_true", help="skip the end-to-end measurement through the app")
    parser.add_argument("--skip-epochs", action="store_true", help="skip the epoch times")
    parser.add_argument("--skip-in-process", action="store_true", help="skip the in-process measurement")
    arguments = parser.parse_args(argv)
    print(f"CPU cores: {len(os.sched_getaffinity(0))}; load average: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    if not arguments.skip_epochs:
        epoch_times()
    if not arguments.skip_in_process:
        report(
            f"In process: one membrane U-Net inference (512×512), training the {arguments.model}",
            in_process(arguments.requests, arguments.model),
        )
    if not arguments.skip_app:
        report(
            f"Through the app: /compare (FCN and U-Net) on maior2, training the {arguments.model}",
            through_app(arguments.requests, arguments.model),
        )
    print(f"load average at the end: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
