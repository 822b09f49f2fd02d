"""Which engine runs a PSPNet's network, at which number format, chosen by measurement.

A PSPNet's network (up to its raw output, `conv6` at 1/8 of the input) can run:

| mode | engine | numbers | where |
| --- | --- | --- | --- |
| `tensorflow float32` | TensorFlow (Keras 3) | float32 | always: the reference and the fallback |
| `tensorflow bfloat16` | TensorFlow, Keras's `mixed_bfloat16` policy | bfloat16 | CPUs with native bfloat16, without OpenVINO |
| `openvino float32` | OpenVINO | float32 | where OpenVINO is installed |
| `openvino bfloat16` | OpenVINO, `INFERENCE_PRECISION_HINT=bf16` | bfloat16 | OpenVINO on CPUs with native bfloat16 |
| `openvino int8` | OpenVINO, post-training quantization by NNCF | int8 | OpenVINO with NNCF |

The network is converted (and, for "fast", quantized) once per weights file, in a child process
(`main`, started by `segdemo.runtime.optimise` from one background thread), never while a request
waits: requests run on TensorFlow meanwhile. Each
candidate is then measured against TensorFlow float32 on the shipped photos: the labels it gives
(after the network's own tail: resize and softmax) must equal float32's on at least
`GUARD_AGREEMENT` of the pixels, with mean |Δ top-class probability| at most `GUARD_TOP_DIFFERENCE`
("exact" candidates: `EXACT_AGREEMENT`), and a "fast" candidate must run at least `FAST_SPEEDUP`
times faster than float32 on TensorFlow, timed in the same run. The first candidate that passes,
in the order of `candidates()`, runs from then on; the verdict and the converted models are kept
under SEGDEMO_CACHE_DIR keyed by the weights' digest and the libraries' versions, so a restart
reuses them without measuring again; the verdict names the machine it was measured on
(`segdemo.settings.machine`), and on another machine only the measurement is redone.

OpenVINO is optional: where it is missing, fails to convert, or loses the labels, TensorFlow runs.
Its telemetry is turned off before it is imported (`telemetry_off`). Intel does not officially support it on AMD
CPUs; it ran correctly on the AMD EPYC this was measured on (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

LOG = logging.getLogger("segdemo.engines")

ENGINE_VERSION = 2
"""Bumped when conversion, calibration or the guard change: cached models of another version are redone.
2: the bfloat16 mode compiles its own model, whose convolution weights are stored in bfloat16."""
GUARD_AGREEMENT = 0.995
"""Share of pixels whose label a fast mode must give as float32 does, pooled over the shipped photos."""
GUARD_TOP_DIFFERENCE = 0.025
"""Mean |difference of the top-class probability| a fast mode may have against float32."""
EXACT_AGREEMENT = 0.9995
"""Share of equal labels an "exact" mode on another engine (OpenVINO float32) must keep: rounding order only."""
EXACT_TOP_DIFFERENCE = 1e-3
FAST_SPEEDUP = 1.5
"""A fast mode must be at least this many times faster than TensorFlow float32 on the same photo."""
INT8_KEPT_IN_FLOAT: tuple[str, ...] = ()
"""Operation-name patterns NNCF leaves in float when quantizing a PSPNet to int8: none, as no choice
of them kept the labels on the stand-in weights (docs/int8.md)."""

TENSORFLOW = "tensorflow"
OPENVINO = "openvino"
ENGINES = (TENSORFLOW, OPENVINO)


@dataclasses.dataclass(frozen=True)
class Mode:
    """An engine and the numbers it computes with.

    Attributes:
        engine: "tensorflow" or "openvino".
        numbers: "float32", "bfloat16" or "int8".
    """

    engine: str
    numbers: str

    @property
    def exact(self) -> bool:
        """float32: the same arithmetic as the reference, only in another order."""
        return self.numbers == "float32"

    @property
    def label(self) -> str:
        """ "OpenVINO int8", "TensorFlow float32": what the photo tab and /health show."""
        return f"{'OpenVINO' if self.engine == OPENVINO else 'TensorFlow'} {self.numbers}"

    @property
    def slug(self) -> str:
        return f"{self.engine}-{self.numbers}"


REFERENCE = Mode(TENSORFLOW, "float32")


def openvino_installed() -> bool:
    """Whether OpenVINO can be imported (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def nncf_installed() -> bool:
    """Whether NNCF (OpenVINO's quantization library) can be imported (without importing it)."""
    return importlib.util.find_spec("nncf") is not None


def candidates(precision: str, engine: str, native_bf16: bool) -> list[Mode]:
    """The modes to try for a PSPNet, best first; the reference (TensorFlow float32) is always last.

    Args:
        precision: "exact" or "fast" (segdemo.settings).
        engine: "auto", "tensorflow" or "openvino" (SEGDEMO_ENGINE).
        native_bf16: whether the CPU computes bfloat16 natively.
    """
    openvino = engine in ("auto", OPENVINO) and openvino_installed()
    modes = []
    if precision == "fast":
        if openvino and nncf_installed():
            modes.append(Mode(OPENVINO, "int8"))
        if native_bf16:
            modes.append(Mode(OPENVINO, "bfloat16") if openvino else Mode(TENSORFLOW, "bfloat16"))
    if openvino:
        modes.append(Mode(OPENVINO, "float32"))
    modes.append(REFERENCE)
    return modes


@dataclasses.dataclass(frozen=True)
class Agreement:
    """How a mode's labels and top probabilities compare with float32's on the shipped photos.

    Attributes:
        labels: share of equal labels, pooled over the photos' pixels (at network resolution).
        worst_photo: the lowest share of one photo.
        top_difference: mean |difference of the top-class probability|.
    """

    labels: float
    worst_photo: float
    top_difference: float

    def passes(self, exact: bool) -> bool:
        if exact:
            return self.labels >= EXACT_AGREEMENT and self.top_difference <= EXACT_TOP_DIFFERENCE
        return self.labels >= GUARD_AGREEMENT and self.top_difference <= GUARD_TOP_DIFFERENCE


def agreement(reference: list[np.ndarray], candidate: list[np.ndarray]) -> Agreement:
    """Compares two lists of class probabilities (one (1, H, W, C) array per photo, after the tail)."""
    equal = pixels = 0
    worst = 1.0
    differences = []
    for ours, theirs in zip(reference, candidate):
        same = ours.argmax(-1) == theirs.argmax(-1)
        equal += int(same.sum())
        pixels += same.size
        worst = min(worst, float(same.mean()))
        differences.append(float(np.abs(ours.max(-1) - theirs.max(-1)).mean()))
    return Agreement(equal / max(pixels, 1), worst, float(np.mean(differences)) if differences else 0.0)


def versions() -> str:
    """The library versions that a converted model depends on."""
    parts = []
    # TensorFlow's distribution is "tensorflow-cpu" here, "tensorflow" with CUDA: the first found counts.
    for name, distributions in (
        ("tensorflow", ("tensorflow", "tensorflow-cpu")),
        ("keras", ("keras",)),
        ("openvino", ("openvino",)),
        ("nncf", ("nncf",)),
    ):
        version = "none"
        for distribution in distributions:
            try:
                version = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        parts.append(f"{name}{version}")
    return "-".join(parts)


def telemetry_off() -> bool:
    """Turns OpenVINO's and NNCF's usage statistics off, as Intel's `opt_in_out --opt_out` does: a
    consent file saying "0" in the home folder, which both read before sending anything (without it
    model conversion and NNCF send by default; no environment variable turns them off). Writing it
    directly sends no opt-out event either. Returns whether they are off."""
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:  # no telemetry package: nothing can be sent
        return True
    checker = OptInChecker()
    try:
        if checker.check(enable_opt_in_dialog=False) != ConsentCheckResult.DECLINED:
            checker.update_result(ConsentCheckResult.DECLINED)
        return checker.check(enable_opt_in_dialog=False) == ConsentCheckResult.DECLINED
    except OSError as error:
        LOG.warning("could not turn OpenVINO's telemetry off (%s)", error)
        return False


def _openvino():
    """Imports OpenVINO, its telemetry turned off first."""
    telemetry_off()
    import openvino

    return openvino


RELEASE_INTERVAL_S = 0.01
"""How often the first inference's weights file pages are released (each pass reads /proc/self/maps: well under a millisecond)."""


class OpenVinoNetwork:
    """A compiled OpenVINO model of a network up to its raw output: callable (1, H, W, 3) → raw, float32.

    Each thread gets its own inference request (a compiled model is shared; a request is not).
    The pages of the model's mapped weights file are released (`segdemo.cpu.release_file_pages`)
    every RELEASE_INTERVAL_S while the first inference runs, and once more after it. That inference
    is when OpenVINO repacks the weights into its kernels' layout, reading each page of the file
    once; released as it goes, the file's pages and the repacked weights are never resident
    together (the process's peak was a weights file higher: 250 MiB for a PSPNet-101 in float32,
    125 MiB in bfloat16). OpenVINO never reads those pages again, and if it did, the kernel would
    read them back from the file: they are clean pages of a read-only mapping.
    """

    # One inference at a time in the process: each is compiled with every usable core, so two at once
    # only share them (and wait for each other's slowest thread). Other workers meanwhile decode,
    # postprocess and draw.
    _running = threading.Lock()

    def __init__(self, compiled, weights_file: Path | None = None) -> None:
        self._compiled = compiled
        self._local = threading.local()
        self._weights_file = weights_file  # None once its pages are released (or when there is none)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        batch = np.ascontiguousarray(batch, np.float32)
        with OpenVinoNetwork._running:
            if self._weights_file is None:
                result = request.infer([batch])
            else:
                result = self._first_inference(request, batch, self._weights_file)
                self._weights_file = None
        return np.asarray(next(iter(result.values())), np.float32).copy()

    @staticmethod
    def _first_inference(request, batch: np.ndarray, weights_file: Path):
        """`request.infer`, with the weights file's mapped pages released while it runs and after it."""
        from segdemo import cpu

        done = threading.Event()
        passes = []

        def release_until_done() -> None:
            while True:
                passes.append(cpu.release_file_pages(weights_file))
                if done.wait(RELEASE_INTERVAL_S):
                    return

        releaser = threading.Thread(target=release_until_done, name="segdemo-release-weights", daemon=True)
        releaser.start()
        try:
            result = request.infer([batch])
        finally:
            done.set()
            releaser.join()
        mapped = cpu.release_file_pages(weights_file)
        LOG.info(
            "released %s's mapped pages (%.0f MiB) %d times while the first inference repacked the weights",
            weights_file.name,
            mapped / 2**20,
            len(passes) + 1,
        )
        return result


def compile_openvino(model, numbers: str, threads: int | None = None, weights_file: Path | None = None) -> OpenVinoNetwork:
    """Compiles an OpenVINO model for the CPU.

    Args:
        model: an `openvino.Model` (float32 or quantized).
        numbers: "float32", "bfloat16" or "int8" (int8 models carry their own quantization; their
            remaining float layers run in float32).
        threads: inference threads (None: OpenVINO's choice, every core the process may use).
        weights_file: the .bin `model` was read from, whose mapped pages are released after the
            first inference (None: nothing to release).
    """
    openvino = _openvino()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16" if numbers == "bfloat16" else "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return OpenVinoNetwork(openvino.Core().compile_model(model, "CPU", config), weights_file)


def convert_to_openvino(network) -> object:
    """Converts a Keras network (input → raw output) to an OpenVINO model through a SavedModel.

    Args:
        network: the Keras model to convert (float32 weights).
    """
    openvino = _openvino()
    with tempfile.TemporaryDirectory(prefix="segdemo-export-") as folder:
        network.export(folder, verbose=False)
        return openvino.convert_model(folder)


def bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16, to nearest with ties to even (as the CPU's own conversion
    `vcvtneps2bf16` does), as their 16-bit patterns (uint16, same shape)."""
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def save_with_bfloat16_weights(float_model_path: Path, path: Path) -> int:
    """Writes the float32 OpenVINO model at `float_model_path` again with its convolution weights
    stored in bfloat16: half the weights' bytes on disk and in memory, the same numbers where it
    runs in bfloat16.

    Compiled with `INFERENCE_PRECISION_HINT=bf16`, a model of float32 weights keeps them (mapped from
    its file, 250 MB for a PSPNet-101) beside the bfloat16 copy its convolutions use. Here each
    convolution's weights are a bfloat16 constant followed by a conversion to float32 marked as
    *decompression*, the pattern OpenVINO's own `compress_to_fp16` writes: the CPU plugin keeps such
    weights compressed and converts them where they are used. bfloat16 rather than float16: the
    weights are rounded once, as the bfloat16 mode rounds them anyway.

    Args:
        float_model_path: the float32 model (its .xml).
        path: the .xml to write (its .bin beside it).

    Returns:
        How many weight tensors were stored in bfloat16.
    """
    import xml.etree.ElementTree as ElementTree

    openvino = _openvino()
    import openvino.opset13 as opset

    model = openvino.Core().read_model(float_model_path)
    stored = 0
    kept = []  # the bfloat16 tensors stay alive until the model is saved
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Constant" or node.get_element_type() != openvino.Type.f32:
            continue
        users = list(node.output(0).get_target_inputs())
        if (
            len(node.get_output_shape(0)) != 4
            or not users
            or any(user.get_node().get_type_name() != "Convolution" for user in users)
        ):
            continue  # biases, scales and shapes stay float32: only convolution kernels are large
        # `opset.constant(values, dtype=bf16)` does not round float32 to nearest (it goes through
        # float16): the bits are made here, and the constant built from a bfloat16 tensor of them.
        halves = openvino.Tensor(openvino.Type.bf16, list(node.get_output_shape(0)))
        halves.data.view(np.uint16)[...] = bfloat16_bits(node.get_data())
        kept.append(halves)
        widened = opset.convert(openvino.op.Constant(halves), openvino.Type.f32)
        for user in users:
            user.replace_source_output(widened.output(0))
        stored += 1
    model.validate_nodes_and_infer_types()
    partial = path.with_name(f"{path.stem}.part.xml")
    openvino.save_model(model, partial, compress_to_fp16=False)
    # The Python API cannot set the `decompression` attribute; the IR's XML takes it as OpenVINO writes it.
    tree = ElementTree.parse(partial)
    for layer in tree.getroot().iter("layer"):
        port = layer.find("input/port")
        if layer.get("type") != "Convert" or port is None or port.get("precision") != "BF16":
            continue
        info = layer.find("rt_info")
        if info is None:
            info = ElementTree.Element("rt_info")
            layer.insert(1, info)  # after <data>, where OpenVINO's own serializer puts it
        if info.find("attribute[@name='decompression']") is None:
            ElementTree.SubElement(info, "attribute", name="decompression", version="0")
    tree.write(partial, encoding="utf-8", xml_declaration=True)
    partial.with_suffix(".bin").replace(path.with_suffix(".bin"))
    partial.replace(path)
    return stored


def quantize_openvino(model, calibration: list[np.ndarray], ignored: tuple[str, ...] = ()) -> object:
    """Post-training int8 quantization by NNCF.

    Args:
        model: the float32 `openvino.Model`.
        calibration: network inputs, (1, H, W, 3) float32 each.
        ignored: operation-name patterns (regular expressions) kept in float.
    """
    _openvino()
    import nncf

    scope = nncf.IgnoredScope(patterns=list(ignored), validate=False) if ignored else None
    return nncf.quantize(
        model,
        nncf.Dataset(calibration),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(calibration),
        ignored_scope=scope,
    )


def calibration_inputs(photos: list[np.ndarray], preprocess: Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """Varied network inputs for int8 calibration: each photo, its mirror image and a centre crop.

    Args:
        photos: canonical uint8 images.
        preprocess: image → (1, H, W, 3) network input (the pipeline's).
    """
    inputs = []
    for pixels in photos:
        height, width = pixels.shape[:2]
        crop = pixels[height // 6 : height - height // 6, width // 6 : width - width // 6]
        for variant in (pixels, np.ascontiguousarray(pixels[:, ::-1]), np.ascontiguousarray(crop)):
            inputs.append(preprocess(variant))
    return inputs


@dataclasses.dataclass
class Verdict:
    """What was measured for one candidate mode."""

    mode: Mode
    agreement: Agreement | None
    seconds: float | None
    reference_seconds: float | None
    passed: bool
    reason: str = ""

    def as_json(self) -> dict:
        return {
            "mode": self.mode.slug,
            "labels": None if self.agreement is None else round(self.agreement.labels, 6),
            "worst_photo": None if self.agreement is None else round(self.agreement.worst_photo, 6),
            "top_difference": None if self.agreement is None else round(self.agreement.top_difference, 6),
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "reference_seconds": None if self.reference_seconds is None else round(self.reference_seconds, 4),
            "passed": self.passed,
            "reason": self.reason,
        }


def _paired_seconds(run, reference, batch: np.ndarray, rounds: int = 3) -> tuple[float, float]:
    """(run's seconds, reference's seconds) on `batch`: the best of `rounds`, the two taking turns,
    so that other work on a shared machine slows both alike instead of whichever ran second."""

    def seconds(function) -> float:
        started = time.perf_counter()
        function(batch)
        return time.perf_counter() - started

    run(batch)  # the first call pays for compilation and caches
    rounds_taken = [(seconds(reference), seconds(run)) for _ in range(rounds)]
    return min(taken for _, taken in rounds_taken), min(taken for taken, _ in rounds_taken)


def choose(
    modes: list[Mode],
    build: Callable[[Mode], Callable[[np.ndarray], np.ndarray]],
    reference: Callable[[np.ndarray], np.ndarray],
    tail: Callable[[np.ndarray], np.ndarray],
    photos: list[np.ndarray],
    log: Callable[[str], None] = LOG.info,
) -> tuple[Mode, Callable[[np.ndarray], np.ndarray], list[Verdict]]:
    """Measures the candidate modes in order and returns the first that passes its guard.

    Args:
        modes: candidates, best first (`candidates()`); the reference is taken when none passes.
        build: mode → its raw function (batch → raw output); may raise (then the mode fails).
        reference: TensorFlow float32's raw function.
        tail: raw output → class probabilities (the network's own resize and softmax).
        photos: network inputs of the shipped photos, (1, H, W, 3) each.
        log: progress lines.

    Returns:
        (the chosen mode, its raw function, a verdict per mode tried).
    """
    expected = [tail(reference(batch)) for batch in photos]
    reference_seconds = None
    verdicts = []
    for mode in modes:
        if mode == REFERENCE:
            break
        try:
            run = build(mode)
            found = agreement(expected, [tail(run(batch)) for batch in photos])
            # Timed only when it keeps the labels (timing costs several runs of both networks).
            seconds, reference_seconds = _paired_seconds(run, reference, photos[0]) if found.passes(mode.exact) else (None, None)
        except Exception as error:  # a failed conversion or compilation: this mode is out, the others remain
            verdicts.append(Verdict(mode, None, None, reference_seconds, False, f"failed: {type(error).__name__}: {error}"))
            log(f"{mode.label}: failed ({type(error).__name__}: {error})")
            continue
        accurate = found.passes(mode.exact)
        # An exact mode only has to be faster; a fast one must earn its rounding by FAST_SPEEDUP.
        if not accurate:
            fast_enough = False
        elif mode.exact:
            fast_enough = seconds < reference_seconds
        else:
            fast_enough = reference_seconds / seconds >= FAST_SPEEDUP
        reason = "" if accurate and fast_enough else ("loses labels" if not accurate else "not fast enough")
        verdicts.append(Verdict(mode, found, seconds, reference_seconds, accurate and fast_enough, reason))
        timing = f"{seconds:.2f} s against {reference_seconds:.2f} s (TensorFlow float32), " if accurate else ""
        log(
            f"{mode.label}: {timing}labels {found.labels:.2%} equal (worst photo {found.worst_photo:.2%}), "
            f"top-probability difference {found.top_difference:.4f}: {'chosen' if not reason else reason}"
        )
        if accurate and fast_enough:
            return mode, run, verdicts
    verdicts.append(Verdict(REFERENCE, Agreement(1.0, 1.0, 0.0), reference_seconds, reference_seconds, True))
    return REFERENCE, reference, verdicts


def cache_folder(root: Path, key: str, pipeline: str, digest: str) -> Path:
    """Where one weights file's converted models and verdict are kept."""
    return Path(root) / "engines" / f"{key}-{pipeline}-{digest[:16]}-v{ENGINE_VERSION}-{versions()}"


def stored_model(folder: Path, numbers: str) -> Path:
    """The OpenVINO model file in `folder` that runs in `numbers` ("float32.xml", "bfloat16.xml",
    "int8.xml"): each mode compiles its own."""
    if numbers not in ("float32", "bfloat16", "int8"):
        raise ValueError(f"numbers must be float32, bfloat16 or int8, not {numbers!r}.")
    return folder / f"{numbers}.xml"


def read_verdict(folder: Path, machine: str | None = None) -> dict | None:
    """The verdict kept in `folder`; None when there is none or, given `machine`
    (`segdemo.settings.machine`), when it was measured on another machine: which modes were
    candidates and which was faster depend on the CPU, and a cache folder may outlive it (a Space's
    persistent storage across a change of hardware). The converted models are kept: only the
    measurement is redone."""
    try:
        verdict = json.loads((folder / "verdict.json").read_text())
    except (OSError, ValueError):
        return None
    if machine is not None and verdict.get("machine") != machine:
        return None
    return verdict


def write_verdict(folder: Path, precision: str, chosen: Mode, verdicts: list[Verdict], machine: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "verdict.json.part"
    partial.write_text(
        json.dumps(
            {
                "precision": precision,
                "chosen": chosen.slug,
                "machine": machine,
                "verdicts": [verdict.as_json() for verdict in verdicts],
            },
            indent=1,
        )
    )
    partial.replace(folder / "verdict.json")


PROGRESS_PREFIX = "segdemo-engines: "
"""Marks the child's progress lines on its output (TensorFlow's and NNCF's own lines are not passed on)."""


def main(argv: list[str] | None = None) -> int:
    """`python -m segdemo engines --measure KEY [--pipeline P] [--precision fast]`: the measurement of
    `segdemo.runtime.optimise`, in a process of its own (what the app's background thread starts)."""
    import argparse
    import sys

    from segdemo import registry, runtime

    parser = argparse.ArgumentParser(prog="python -m segdemo engines", description=main.__doc__)
    parser.add_argument("--measure", required=True, help="a PSPNet's key (or a reduced one's)")
    parser.add_argument("--pipeline", default=None)
    parser.add_argument("--precision", default=None, choices=("exact", "fast"))
    arguments = parser.parse_args(argv)
    loaded = runtime.LoadedModel(registry.lookup(arguments.measure), arguments.pipeline, arguments.precision)

    def log(line: str) -> None:
        print(PROGRESS_PREFIX + line, flush=True)

    mode = runtime.optimise(loaded, log=log, isolated=False)
    print(PROGRESS_PREFIX + f"{arguments.measure}: the child chose {mode.label}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit("Run the measurement as: python -m segdemo engines --measure KEY (see segdemo/__main__.py)")
