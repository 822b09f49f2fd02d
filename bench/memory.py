"""Peak memory of the app serving one PSPNet: what a Space or a class machine must hold.

Usage: python -m bench.memory [--models pspnet_voc pspnet_ade20k pspnet_cityscapes] [--cache-dir DIR]
                              [--reference] [--time-limit 1800]

For each network: writes it with seeded weights that behave like trained ones (bench/seeded_weights.py,
the published layout) into a folder of its own, starts app.py with only that network's weights (so its
start-up loads that PSPNet and the small models, as a class machine does), waits until the app has
measured its engines (minutes the first time; with --cache-dir the verdict is kept and the next run
starts from it, as a restart before a class does), then sends two photos through gradio_client's
/photos, a 1024 × 682 one and a 12 MP one, and reads the app process's peak RSS (VmHWM) after the
start, after each photo. --reference runs the same app again with SEGDEMO_ENGINE=tensorflow and
SEGDEMO_PRECISION=exact, in the same run. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gradio_client import Client
from PIL import Image

from bench.app_server import ROOT, running_app, wait_for_warm_up
from bench.burst import check_answer, submit, wait_for_engines, write_weights
from bench.load import peak_rss_mib

KEYS = ("pspnet_voc", "pspnet_ade20k", "pspnet_cityscapes")
PHOTO = ROOT / "examples" / "photos" / "ade_bakery.jpg"
SIZES = {"1024x682": (1024, 682), "12 MP": (4000, 3000)}


def make_photos(folder: Path) -> dict[str, Path]:
    """The shipped bakery photo at each size of SIZES, as JPEG files."""
    paths = {}
    with Image.open(PHOTO) as image:
        image = image.convert("RGB")
        for name, size in SIZES.items():
            paths[name] = folder / f"bakery_{size[0]}x{size[1]}.jpg"
            image.resize(size, Image.Resampling.BICUBIC).save(paths[name], quality=90)
    return paths


def measure(model: str, weights: Path, cache: Path, photos: dict[str, Path], log: Path, limit: float, env: dict) -> dict:
    """One app with one PSPNet: its peak RSS after the start and after each photo, and what ran the network."""
    with running_app(log, env={"SEGDEMO_WEIGHTS_DIR": str(weights), "SEGDEMO_CACHE_DIR": str(cache), **env}) as app:
        deadline = time.monotonic() + limit
        client = Client(app.url, verbose=False, download_files=False)
        error = check_answer(submit(client, photos["1024x682"], model).result(timeout=limit))  # loads it, starts the measurement
        if error:
            raise SystemExit(f"{model}: the first request failed: {error}\n{app.log_tail()}")
        runs_in = wait_for_engines(app.url, model, max(0.0, deadline - time.monotonic()))
    # A second app from the engines' cache: what a restart before the class holds, measured from its start.
    with running_app(log, env={"SEGDEMO_WEIGHTS_DIR": str(weights), "SEGDEMO_CACHE_DIR": str(cache), **env}) as app:
        wait_for_warm_up(app.url, deadline)
        result = {"model": model, "runs_in": runs_in, "started_mib": peak_rss_mib(app.pid)}
        client = Client(app.url, verbose=False, download_files=False)
        for name, path in photos.items():
            error = check_answer(submit(client, path, model).result(timeout=600))
            if error:
                raise SystemExit(f"{model}: the {name} photo failed: {error}\n{app.log_tail()}")
            result[name] = peak_rss_mib(app.pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(KEYS), choices=KEYS)
    parser.add_argument("--cache-dir", type=Path, default=None, help="SEGDEMO_CACHE_DIR to keep (engines measured once)")
    parser.add_argument("--reference", action="store_true", help="also TensorFlow float32 (SEGDEMO_ENGINE=tensorflow, exact)")
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds per app for its start and engines")
    arguments = parser.parse_args()
    variants = {"default": {}}
    if arguments.reference:
        variants["TensorFlow float32"] = {"SEGDEMO_ENGINE": "tensorflow", "SEGDEMO_PRECISION": "exact"}
    with tempfile.TemporaryDirectory(prefix="segdemo-memory-") as scratch:
        folder = Path(scratch)
        photos = make_photos(folder)
        cache = arguments.cache_dir or folder / "cache"
        print(f"{os.cpu_count()} CPU cores seen; peak RSS of the app (VmHWM), MiB; 1.3 GB = 1240 MiB, 1.3 GiB = 1331 MiB")
        print(f"{'network':18} {'variant':20} {'runs in':24} {'started':>8} " + " ".join(f"{name:>9}" for name in SIZES))
        for model in arguments.models:
            weights = folder / model
            weights.mkdir()
            write_weights(model, weights)
            for variant, env in variants.items():
                found = measure(model, weights, cache, photos, folder / f"{model}.log", arguments.time_limit, env)
                print(
                    f"{model:18} {variant:20} {found['runs_in']:24} {found['started_mib']:8.0f} "
                    + " ".join(f"{found[name]:9.0f}" for name in SIZES),
                    flush=True,
                )


if __name__ == "__main__":
    main()
