"""A class burst: N students send a photo to the photo tab's PSPNet at the same moment.

Usage: python -m bench.burst [--requests 60] [--model pspnet_voc] [--max-megapixels 12] [--time-limit 600]
                             [--workers N] [--precision exact|fast] [--engine auto|tensorflow|openvino] [--cache-dir DIR]
                             [--no-views]

Writes the network with seeded weights that behave like trained ones, in the published layout, into
a temporary weights folder (the real file is absent here), starts app.py on 127.0.0.1 with it, sends
one warm-up request (it loads TensorFlow and converts the weights, timed apart), waits until the
app has measured its engines and its start-up warm-up is over (as before a class), then submits N requests at
once through gradio_client's /photos endpoint: N different images (the shipped photos, each round
another crop, every other one mirrored), at sizes cycling from 0.3 MP up to --max-megapixels. As a
browser does, each student then asks for the photo's views (/photo_views: the annotated views, the
before/after slider, the downloads) once the first answer is in; --no-views leaves that out. Prints when the last
answer arrived, the waits (p50, p95, max), failures, the queue positions and ETAs the clients saw,
the server's peak RSS, the CPU time the app and this bench's clients used during the burst (in
class the clients run on the students' laptops), and the machine's busy, idle and stolen time from
/proc/stat. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from bench.app_server import ROOT, health, running_app, wait_for_warm_up
from bench.load import cpu_seconds, machine_cpu_seconds, peak_rss_mib

PHOTOS = ROOT / "examples" / "photos"
MEGAPIXEL_STEPS = (0.3, 1.0, 3.0, 6.0, 12.0)  # cycled through, capped at --max-megapixels
PIPELINE, THRESHOLD, OPACITY = "original", 0.0, 0.55


@dataclass
class Outcome:
    """One request: its photo and size, when its answer arrived after the burst began, what the client saw meanwhile."""

    photo: str
    megapixels: float
    seconds: float = float("nan")
    error: str | None = None
    ranks: list[int] = field(default_factory=list)
    etas: list[float] = field(default_factory=list)


def make_photos(folder: Path, count: int, max_megapixels: float) -> list[tuple[Path, float]]:
    """`count` different JPEGs, as a class would send: the shipped photos in turn, each time
    another crop (and every other round mirrored), resized to the next size of MEGAPIXEL_STEPS.
    No two are the same image, so no answer can come from the app's output cache."""
    sources = sorted(PHOTOS.glob("*.jpg"))
    if not sources:
        raise SystemExit(f"no shipped photos in {PHOTOS}")
    steps = [step for step in MEGAPIXEL_STEPS if step < max_megapixels] + [max_megapixels]
    result = []
    for index in range(count):
        source, megapixels = sources[index % len(sources)], steps[index % len(steps)]
        round_ = index // len(sources)
        with Image.open(source) as image:
            image = image.convert("RGB")
            # Each round keeps a little less of the photo, from another corner: (trim, trim) to (0, 0) in turn.
            trim = 0.03 * (round_ + 1)
            left = round(image.width * trim) if round_ % 2 else 0
            top = round(image.height * trim) if round_ % 4 >= 2 else 0
            image = image.crop((left, top, left + round(image.width * (1 - trim)), top + round(image.height * (1 - trim))))
            if round_ % 2:
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            path = folder / f"{index:03d}_{source.stem}_{megapixels:g}mp.jpg"
            image.resize(size, Image.Resampling.BICUBIC).save(path, quality=88)
        result.append((path, megapixels))
    return result


def write_weights(model: str, folder: Path) -> None:
    """Seeded weights in the published layout that behave like trained ones (bench/seeded_weights.py:
    the engines' guard compares labels, which flat random scores would flip on any rounding), written
    by a child process (TensorFlow stays out of this one; the calibrated file is cached)."""
    code = f"from bench.published_weights import write_trained_like_weights as w; w({model!r}, {str(folder)!r})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def wait_for_engines(url: str, model: str, limit: float) -> str:
    """Waits until the app has finished measuring `model`'s engines (started at start-up in the
    background, as before a class); returns what runs it."""
    deadline = time.monotonic() + limit
    while True:
        running = health(url).get("engines", {})
        state = next((value for key, value in running.items() if key.split(":")[0].split("@")[0] == model), None)
        if (state is not None and "," not in state) or time.monotonic() > deadline:  # "…, measuring OpenVINO" while busy
            return state or "not loaded"
        time.sleep(2)


def submit(client: Client, path: Path, model: str):
    return client.submit(handle_file(str(path)), [model], PIPELINE, THRESHOLD, OPACITY, api_name="/photos")


def submit_views(client: Client, path: Path, model: str):
    """What a browser asks next, once /photos has answered: the side-by-side views, the before/after
    slider and the downloads, drawn from the cached network output (same queue, at its end)."""
    return client.submit(handle_file(str(path)), [model], PIPELINE, THRESHOLD, OPACITY, "overlay", model, api_name="/photo_views")


def check_answer(result) -> str | None:
    """None for an answer with one overlay; otherwise what is wrong with it."""
    gallery, _table = result
    if not gallery:
        return f"no overlay in the answer: {str(result)[:200]}"
    return None


def run_burst(
    url: str, photos: list[tuple[Path, float]], model: str, deadline: float, views: bool = True
) -> tuple[list[Outcome], float]:
    """Submits every photo at once and waits for the answers (until `deadline`).

    Args:
        views: after each /photos answer, ask for its views as the browser does (/photo_views); the
            photo's wait ends with that second answer.
    """
    # download_files=False: the overlays stay on the server (the students' browsers fetch them, not this bench).
    client = Client(url, verbose=False, max_workers=2 * len(photos) + 4, download_files=False)
    outcomes = [Outcome(path.name, megapixels) for path, megapixels in photos]
    started = time.monotonic()
    jobs = [submit(client, path, model) for path, _ in photos]
    finished = [threading.Event() for _ in photos]

    def record(job, outcome: Outcome, path: Path, finish: threading.Event, first: bool) -> None:
        def done(_future) -> None:
            try:
                result = job.result(timeout=0)
                outcome.error = check_answer(result) if first else None
            except Exception as exception:  # noqa: BLE001 - every failure is counted and reported
                outcome.error = f"{type(exception).__name__}: {str(exception)[:300]}"
            if first and views and outcome.error is None:
                record(submit_views(client, path, model), outcome, path, finish, first=False)
                return
            outcome.seconds = time.monotonic() - started
            finish.set()

        job.add_done_callback(done)

    for job, outcome, (path, _), finish in zip(jobs, outcomes, photos, finished):
        record(job, outcome, path, finish, first=True)
    # What a waiting student is shown: queue position and estimated wait (polled, as the page updates).
    while not all(finish.is_set() for finish in finished) and time.monotonic() < deadline:
        for job, outcome in zip(jobs, outcomes):
            if not job.done():
                status = job.status()
                if status.rank is not None:
                    outcome.ranks.append(status.rank)
                if status.eta is not None:
                    outcome.etas.append(status.eta)
        time.sleep(0.5)
    for job, outcome, finish in zip(jobs, outcomes, finished):
        if not finish.is_set():
            outcome.error = "no answer before the time limit"
            job.cancel()
    return outcomes, time.monotonic() - started


def report(outcomes: list[Outcome], warm_s: float, rss_before: float, rss_peak: float) -> None:
    failures = [outcome for outcome in outcomes if outcome.error]
    waits = sorted(outcome.seconds for outcome in outcomes if not outcome.error)
    print(f"warm-up request (TensorFlow, weights conversion, first inference): {warm_s:.1f} s")
    print(f"requests:   {len(outcomes)} sent at once, {len(failures)} failed")
    for failure in failures[:5]:
        print(f"  {failure.photo} ({failure.megapixels:g} MP): {failure.error}")
    if waits:
        print(f"last answer {waits[-1]:.1f} s after the burst began")
        print(f"waits:      p50 {np.percentile(waits, 50):.1f} s, p95 {np.percentile(waits, 95):.1f} s, min {waits[0]:.1f} s")
        print(f"throughput: {len(waits) / waits[-1]:.2f} photos/s, {waits[-1] / len(waits):.2f} s per photo")
    ranked = [outcome for outcome in outcomes if outcome.ranks]
    with_eta = [outcome for outcome in outcomes if outcome.etas]
    print(
        f"queue:      {len(ranked)} of {len(outcomes)} clients saw a queue position (highest {max((max(o.ranks) for o in ranked), default=0)}), "
        f"{len(with_eta)} an ETA (first ETAs: {', '.join(f'{o.etas[0]:.0f} s' for o in with_eta[:6])})"
    )
    print("server RSS: " + f"{rss_before:.0f} MiB peak after the warm-up, {rss_peak:.0f} MiB peak after the burst")
    print("PASS: every request answered" if not failures else "FAIL: see above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--model", default="pspnet_voc", choices=("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes"))
    parser.add_argument("--max-megapixels", type=float, default=12.0)
    parser.add_argument(
        "--no-views",
        action="store_true",
        help="only /photos (the API's answer), not the views a browser asks for next (/photo_views)",
    )
    parser.add_argument("--time-limit", type=float, default=600, help="seconds for the warm-up and the burst together")
    parser.add_argument("--workers", type=int, default=None, help="SEGDEMO_WORKERS for the app (default: the app's own choice)")
    parser.add_argument("--precision", choices=("exact", "fast"), help="SEGDEMO_PRECISION for the app (default: its own choice)")
    parser.add_argument("--engine", choices=("auto", "tensorflow", "openvino"), help="SEGDEMO_ENGINE for the app")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="SEGDEMO_CACHE_DIR to keep (the engines' verdict is reused next run)"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segdemo-burst-") as scratch:
        folder = Path(scratch)
        (folder / "weights").mkdir()
        started = time.monotonic()
        write_weights(arguments.model, folder / "weights")
        photos = make_photos(folder, arguments.requests, arguments.max_megapixels)
        print(
            f"trained-like {arguments.model} weights and {len({p for p, _ in photos})} photo files ready in {time.monotonic() - started:.0f} s"
        )
        cache = arguments.cache_dir or folder / "cache"
        env = {"SEGDEMO_WEIGHTS_DIR": str(folder / "weights"), "SEGDEMO_CACHE_DIR": str(cache)}
        if arguments.workers is not None:
            env["SEGDEMO_WORKERS"] = str(arguments.workers)
        for variable, value in (("SEGDEMO_PRECISION", arguments.precision), ("SEGDEMO_ENGINE", arguments.engine)):
            if value:
                env[variable] = value
        with running_app(folder / "app.log", env=env) as app:
            deadline = time.monotonic() + arguments.time_limit
            print(
                f"app pid {app.pid} up in {app.ready_seconds:.1f} s; {arguments.requests} requests to {arguments.model}, {os.cpu_count()} CPU cores"
            )
            served = health(app.url)
            print(f"workers {served.get('workers')}, cores used {served.get('cores')}, load average {os.getloadavg()[0]:.1f}")
            warm_started = time.monotonic()
            warm_error = check_answer(
                submit(Client(app.url, verbose=False, download_files=False), photos[0][0], arguments.model).result(timeout=300)
            )
            if warm_error:
                raise SystemExit(f"the warm-up request failed: {warm_error}\n{app.log_tail()}")
            warm_s = time.monotonic() - warm_started
            engine_started = time.monotonic()
            runs_in = wait_for_engines(app.url, arguments.model, max(0.0, deadline - time.monotonic()))
            served = health(app.url)
            print(
                f"{arguments.model} runs in {runs_in} (precision {served.get('precision')}; engines measured "
                f"{time.monotonic() - engine_started:.0f} s after the warm-up answer)"
            )
            # In class the app has been up for minutes: its start-up warm-up is over before anyone sends.
            wait_for_warm_up(app.url, deadline)
            rss_before = peak_rss_mib(app.pid)
            print(
                "each student: /photos, then /photo_views as the browser asks"
                if not arguments.no_views
                else "each student: /photos only"
            )
            app_cpu, client_cpu, machine = cpu_seconds(app.pid), time.process_time(), machine_cpu_seconds()
            outcomes, burst_s = run_burst(app.url, photos, arguments.model, deadline, views=not arguments.no_views)
            app_cpu, client_cpu = cpu_seconds(app.pid) - app_cpu, time.process_time() - client_cpu
            machine = {name: value - machine[name] for name, value in machine_cpu_seconds().items()}
            report(outcomes, warm_s, rss_before, peak_rss_mib(app.pid))
            # The students' clients run on their own laptops in a class; here they share the app's cores.
            print(
                f"CPU time:   app {app_cpu:.1f} s ({app_cpu / len(outcomes):.2f} s a photo), this bench's "
                f"{len(outcomes)} clients {client_cpu:.1f} s, over {burst_s:.1f} s on {len(os.sched_getaffinity(0))} cores"
            )
            if machine:  # what else ran here meanwhile, and what the hypervisor took (stolen time)
                others = machine["busy"] - app_cpu - client_cpu
                print(
                    f"machine:    other processes {others:.1f} CPU-s, idle {machine['idle']:.1f} s, stolen {machine['steal']:.1f} s "
                    f"(all {os.cpu_count()} cores of /proc/stat)"
                )
            print(f"load average after the burst: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")
            if app.process.poll() is not None or any(outcome.error for outcome in outcomes):
                print(f"--- the app's log, last lines ---\n{app.log_tail(4000)}")


if __name__ == "__main__":
    main()
