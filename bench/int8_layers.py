"""Where OpenVINO int8 (NNCF post-training quantization) loses a PSPNet's labels, and a recipe that keeps them.

Converts a PSPNet's network (input → raw output `conv6`, logits at 1/8 of the input) to OpenVINO,
quantizes it with NNCF under one or more recipes, and for each recipe prints:

- the label agreement with TensorFlow float32 after the network's own tail (resize + softmax) on
  the 9 shipped photos: the share of equal labels (worst photo, mean) and the mean |difference of
  the top-class probability|, the figures the app's guard checks (≥ 99.5 % and ≤ 0.025);
- with --layers, the relative error ‖int8 − f32‖ / ‖f32‖ after every ReLU, residual sum, pooling,
  resize and the concatenation, against OpenVINO float32 on the same photo, named by the Keras
  layer each OpenVINO node computes (matched by value), and where the error jumps;
- with --time, seconds per photo of the network alone (OpenVINO int8, OpenVINO float32 and
  TensorFlow float32, timed alternately in one run after a warm-up).

Calibration never uses the photos as the guard sees them only: "basic" is each photo, its mirror
image and a centre crop (what the app calibrates on); "varied" adds corner crops, a down-scaled
letterboxed copy and colour-jittered copies. `nncf.quantize_with_accuracy_control` (recipe names
ending in "_ac") validates on held-out variants (other crops, jitter and a small rotation), never
on the guard's own inputs; the guard then runs on the untouched photos.

Usage:
    python -m bench.int8_layers --model pspnet_ade20k --weights-dir DIR \
        [--recipe default --recipe head_float ...] [--calibration basic|varied] [--layers] [--time]
        [--save-dir DIR]

Recipes are in RECIPES below; `--list` prints them. The measured results are in docs/int8.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OPENVINO_TELEMETRY_DISABLE", "1")
os.environ.setdefault("NNCF_TELEMETRY_DISABLE", "1")

GUARD_AGREEMENT = 0.995
GUARD_TOP_DIFFERENCE = 0.025


# ----------------------------------------------------------------------------------------------
# Recipes: keyword arguments for nncf.quantize, built lazily (nncf is imported only when needed).
# "ignored" entries are resolved against the converted model by `head_ops` / `op_types` below,
# because the converter names nodes after transposes (Transpose_1234), not after Keras layers.
# ----------------------------------------------------------------------------------------------


def _recipes():
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    mixed = {"preset": nncf.QuantizationPreset.MIXED}
    return {
        "default": {},
        "mixed": dict(mixed),
        "mixed_cpu": dict(mixed, target_device=nncf.TargetDevice.CPU),
        "performance": {"preset": nncf.QuantizationPreset.PERFORMANCE},
        "no_fast_bias": dict(mixed, fast_bias_correction=False),
        "no_bias_correction": dict(mixed, advanced_parameters=AdvancedQuantizationParameters(disable_bias_correction=True)),
        "overflow_fix": dict(mixed, advanced_parameters=AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE)),
        "smooth_quant": dict(
            mixed,
            model_type=nncf.ModelType.TRANSFORMER,
            advanced_parameters=AdvancedQuantizationParameters(
                smooth_quant_alphas=AdvancedSmoothQuantParameters(convolution=0.5, matmul=0.5)
            ),
        ),
        # Keep the first convolution(s) in float: the photo itself is never rounded to 256 levels.
        "first_conv_float": dict(mixed, ignored="first:1"),
        "stem_float": dict(mixed, ignored="first:3"),
        "stage2_float": dict(mixed, ignored="first:13"),
        # Keep only the last convolution (conv6, the 150/21/19 class logits) in float.
        "conv6_float": dict(mixed, ignored="conv6"),
        # Keep the head (conv5_4 and conv6) in float.
        "head_float": dict(mixed, ignored="head"),
        # Keep the pyramid pooling module and the head in float (everything after conv5_3_relu).
        "ppm_head_float": dict(mixed, ignored="ppm_head"),
        # Range estimators: min/max of activations instead of the default quantile/mean estimates.
        "minmax": dict(mixed, advanced_parameters=_minmax_parameters()),
        "head_float_minmax": dict(mixed, ignored="head", advanced_parameters=_minmax_parameters()),
        "ppm_head_float_minmax": dict(mixed, ignored="ppm_head", advanced_parameters=_minmax_parameters()),
        # Histogram (MSE-optimal clipping) ranges for activations.
        "histogram": dict(
            mixed,
            advanced_parameters=AdvancedQuantizationParameters(
                activations_range_estimator_params=RangeEstimatorParametersSet.HISTOGRAM
            ),
        ),
        # Channel alignment (equalises per-channel ranges across consecutive convolutions).
        "channel_alignment": dict(mixed, advanced_parameters=AdvancedQuantizationParameters(disable_channel_alignment=False)),
        "head_float_ac": dict(mixed, ignored="head", accuracy_control=True),
        "mixed_ac": dict(mixed, accuracy_control=True),
    }


def _minmax_parameters():
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import (
        AggregatorType,
        RangeEstimatorParameters,
        StatisticsCollectorParameters,
        StatisticsType,
    )

    minmax = RangeEstimatorParameters(
        min=StatisticsCollectorParameters(StatisticsType.MIN, AggregatorType.MIN),
        max=StatisticsCollectorParameters(StatisticsType.MAX, AggregatorType.MAX),
    )
    del nncf
    return AdvancedQuantizationParameters(activations_range_estimator_params=minmax)


# ----------------------------------------------------------------------------------------------
# Model, photos, calibration
# ----------------------------------------------------------------------------------------------


def load(model_key: str):
    """The Keras model (weights from SEGDEMO_WEIGHTS_DIR), its truncated network and the photos' inputs."""
    import keras

    from segdemo import images, registry, runtime, samples

    spec = registry.get(model_key)
    loaded = runtime.LoadedModel(spec, precision="exact")
    network = keras.Model(loaded.model.inputs, [loaded.model.get_layer(spec.raw_output_layer).output])
    photos = samples.photos()
    pixels = [images.to_rgb(images.load(photo.image)) for photo in photos]
    batches = [loaded.pipeline.preprocess(image).batch for image in pixels]
    return loaded, network, [photo.name for photo in photos], pixels, batches


def convert(network):
    """Keras network → SavedModel → openvino.Model (float32)."""
    import openvino

    with tempfile.TemporaryDirectory(prefix="int8-export-") as folder:
        network.export(folder, verbose=False)
        return openvino.convert_model(folder)


def _jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation changed by up to ±25 %."""
    x = image.astype(np.float32)
    grey = x.mean(-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.75, 1.25)  # saturation
    x = x.mean() + (x - x.mean()) * rng.uniform(0.75, 1.25)  # contrast
    x = x * rng.uniform(0.75, 1.25)  # brightness
    return np.clip(x, 0, 255).astype(np.uint8)


def _crop(image: np.ndarray, top: float, left: float, share: float) -> np.ndarray:
    height, width = image.shape[:2]
    h, w = int(height * share), int(width * share)
    y, x = int((height - h) * top), int((width - w) * left)
    return np.ascontiguousarray(image[y : y + h, x : x + w])


def _shrunk(image: np.ndarray, share: float) -> np.ndarray:
    """The photo scaled down and placed on a mean-grey canvas of its own size (objects appear smaller)."""
    import cv2

    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, int(width * share)), max(1, int(height * share))), interpolation=cv2.INTER_AREA)
    canvas = np.full_like(image, 117)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
    return canvas


def calibration_images(pixels: list[np.ndarray], kind: str, seed: int = 0) -> list[np.ndarray]:
    """Calibration images (uint8 RGB) made from the photos.

    basic: photo, mirror, centre crop (2/3); varied: basic plus four corner crops (3/4), a copy
    shrunk to 60 % and two colour-jittered copies (one mirrored).
    """
    rng = np.random.default_rng(seed)
    out = []
    for image in pixels:
        mirror = np.ascontiguousarray(image[:, ::-1])
        out += [image, mirror, _crop(image, 0.5, 0.5, 2 / 3)]
        if kind == "varied":
            out += [_crop(image, top, left, 0.75) for top, left in ((0, 0), (0, 1), (1, 0), (1, 1))]
            out += [_shrunk(image, 0.6), _jitter(image, rng), _jitter(mirror, rng)]
    return out


def validation_images(pixels: list[np.ndarray], seed: int = 1) -> list[np.ndarray]:
    """Held-out variants for accuracy control: off-centre crops (4/5), jitter, a 4° rotation."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for image in pixels:
        height, width = image.shape[:2]
        rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 4.0, 1.08)
        out += [
            _jitter(_crop(image, 0.3, 0.7, 0.8), rng),
            cv2.warpAffine(image, rotation, (width, height), borderMode=cv2.BORDER_REFLECT),
        ]
    return out


# ----------------------------------------------------------------------------------------------
# Node selection (the converter's names are not the Keras names)
# ----------------------------------------------------------------------------------------------


def _is_activation(op) -> bool:
    return op.get_type_name() != "Constant"


def head_ops(model, part: str) -> list[str]:
    """Names of the OpenVINO operations to keep in float: "first:N" (the first N convolutions), "conv6", "head", "ppm_head".

    conv6: the last Convolution and its bias Add; head: every operation after the Concat (conv5_4,
    its batch-norm Add and ReLU, conv6); ppm_head: every operation after the last ResNet ReLU
    that feeds the pyramid pooling (the AvgPools, their convolutions, the Interpolates, Concat, head).
    """
    ops = [op for op in model.get_ordered_ops() if op.get_type_name() not in ("Constant", "Parameter", "Result")]
    if part.startswith("first:"):  # the first N convolutions (3: the stem, 13: stem and stage 2, 26: ... stage 3)
        return [op.get_friendly_name() for op in ops if op.get_type_name() == "Convolution"][: int(part[6:])]
    if part == "conv6":
        last_conv = max(i for i, op in enumerate(ops) if op.get_type_name() == "Convolution")
        return [op.get_friendly_name() for op in ops[last_conv:]]
    if part == "head":
        concat = max(i for i, op in enumerate(ops) if op.get_type_name() == "Concat")
        return [op.get_friendly_name() for op in ops[concat + 1 :]]
    if part == "ppm_head":
        first_pool = min(i for i, op in enumerate(ops) if op.get_type_name() == "AvgPool")
        return [op.get_friendly_name() for op in ops[first_pool:]]
    raise ValueError(part)


def quantize(model, calibration: list[np.ndarray], recipe: dict, validation=None, validate=None):
    """nncf.quantize (or quantize_with_accuracy_control) of `model` under `recipe`."""
    import nncf

    recipe = dict(recipe)
    ignored = recipe.pop("ignored", None)
    accuracy_control = recipe.pop("accuracy_control", False)
    if ignored:
        recipe["ignored_scope"] = nncf.IgnoredScope(names=head_ops(model, ignored), validate=False)
    if accuracy_control:
        return nncf.quantize_with_accuracy_control(
            model,
            nncf.Dataset(calibration),
            nncf.Dataset(validation),
            validation_fn=validate,
            max_drop=0.005,
            drop_type=nncf.DropType.ABSOLUTE,
            subset_size=len(calibration),
            **recipe,
        )
    return nncf.quantize(model, nncf.Dataset(calibration), subset_size=len(calibration), **recipe)


def compile_model(model, precision: str = "f32"):
    import openvino

    return openvino.Core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision})


def run(compiled, batch: np.ndarray) -> np.ndarray:
    return np.asarray(compiled([np.ascontiguousarray(batch, np.float32)])[0], np.float32)


# ----------------------------------------------------------------------------------------------
# Measures
# ----------------------------------------------------------------------------------------------


def agreement(reference: list[np.ndarray], candidate: list[np.ndarray]) -> tuple[list[float], float]:
    """Per-photo share of equal labels and the mean |Δ top probability| (tail outputs, (1, H, W, C))."""
    shares, differences = [], []
    for ours, theirs in zip(reference, candidate):
        shares.append(float((ours.argmax(-1) == theirs.argmax(-1)).mean()))
        differences.append(float(np.abs(ours.max(-1) - theirs.max(-1)).mean()))
    return shares, float(np.mean(differences))


def probe_ops(model) -> list:
    """Operations whose outputs the layer report compares: ReLUs, residual sums, poolings, resizes, Concat, output."""
    chosen = []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind in ("Relu", "MaxPool", "AvgPool", "Interpolate", "Concat"):
            chosen.append(op)
        elif kind == "Add" and all(_is_activation(v.get_node()) for v in op.input_values()):
            chosen.append(op)  # a residual sum (a batch-norm bias Add has a Constant input)
    return chosen


def keras_names(network, model_f32, batch: np.ndarray, names: list[str]) -> dict[str, str]:
    """OpenVINO node name → the Keras layer whose output it equals (by value, float32 vs float32)."""
    import keras

    wanted = [
        layer
        for layer in network.layers
        if type(layer).__name__ in ("ReLU", "Add", "MaxPooling2D", "AveragePooling2D", "BilinearResize", "Concatenate")
    ]
    values = keras.Model(network.inputs, [layer.output for layer in wanted])(batch, training=False)
    values = [np.asarray(v) for v in values]
    outputs = _with_outputs(model_f32, names)
    found = outputs(batch)
    mapping = {}
    for name, value in found.items():
        channels_last = value.transpose(0, 2, 3, 1) if value.ndim == 4 else value  # OpenVINO computes NCHW
        best, best_error = "?", np.inf
        for layer, candidate in zip(wanted, values):
            for view in (channels_last, value):
                if candidate.shape != view.shape:
                    continue
                error = np.linalg.norm(candidate - view) / (np.linalg.norm(candidate) + 1e-12)
                if error < best_error:
                    best, best_error = layer.name, error
        mapping[name] = best if best_error < 1e-3 else f"{best}?"
    return mapping


def _with_outputs(model, names: list[str]):
    """A callable: batch → {name: output} of the given nodes of a (cloned) model."""
    clone = model.clone()
    by_name = {op.get_friendly_name(): op for op in clone.get_ops()}
    clone.add_outputs([by_name[name].output(0) for name in names])
    compiled = compile_model(clone)
    results = compiled.outputs[1:]

    def outputs(batch):
        values = compiled([np.ascontiguousarray(batch, np.float32)])
        return {name: np.asarray(values[port]) for name, port in zip(names, results)}

    return outputs


def layer_report(network, model_f32, model_int8, batches: list[np.ndarray], photo_names: list[str], which: list[int]) -> None:
    """Prints ‖int8 − f32‖/‖f32‖ per probed node, for the photos `which`."""
    names = [op.get_friendly_name() for op in probe_ops(model_f32)]
    int8_names = {op.get_friendly_name() for op in model_int8.get_ops()}
    names = [name for name in names if name in int8_names]
    labels = keras_names(network, model_f32, batches[which[0]], names)
    f32 = _with_outputs(model_f32, names)
    int8 = _with_outputs(model_int8, names)
    errors = {name: [] for name in names}
    for index in which:
        ours, theirs = f32(batches[index]), int8(batches[index])
        for name in names:
            a, b = ours[name], theirs[name]
            errors[name].append(float(np.linalg.norm(b - a) / (np.linalg.norm(a) + 1e-12)))
    print(f"\nrelative error ‖int8 − f32‖/‖f32‖ per node, photos: {', '.join(photo_names[i] for i in which)}")
    previous = 0.0
    for name in names:
        mean = float(np.mean(errors[name]))
        jump = "  <-- jump" if mean > 1.5 * previous + 0.02 else ""
        print(f"  {labels[name]:<28} {name:<18} " + " ".join(f"{e:7.4f}" for e in errors[name]) + jump)
        previous = mean


def timing(runs: dict, batch: np.ndarray, rounds: int = 5) -> dict[str, float]:
    """Median seconds per call of each runner, called alternately (after one warm-up call each)."""
    for runner in runs.values():
        runner(batch)
    seconds = {name: [] for name in runs}
    for _ in range(rounds):
        for name, runner in runs.items():
            started = time.perf_counter()
            runner(batch)
            seconds[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) for name, values in seconds.items()}


def float_region(model_int8, model_f32, indices, activations: bool = True, weights: bool = True):
    """A copy of the quantized model whose convolutions at `indices` (in graph order) compute in float.

    Removes the FakeQuantize on each such convolution's input (activations) and puts back its float32
    weights (weights). A sensitivity probe, not a recipe: biases adjusted by bias correction stay as they are
    (quantize with the "no_bias_correction" recipe for a clean probe).
    """
    import openvino

    copy = model_int8.clone()
    floats = {op.get_friendly_name(): op for op in model_f32.get_ordered_ops() if op.get_type_name() == "Convolution"}
    convolutions = [op for op in copy.get_ordered_ops() if op.get_type_name() == "Convolution"]
    for index in indices:
        convolution = convolutions[index]
        source = convolution.input_value(0).get_node()
        if activations and source.get_type_name() == "FakeQuantize":
            convolution.input(0).replace_source_output(source.input_value(0))
        if weights:
            original = floats[convolution.get_friendly_name()].input_value(1).get_node()
            convolution.input(1).replace_source_output(openvino.op.Constant(original.get_data().copy()).output(0))
    copy.validate_nodes_and_infer_types()
    return copy


def noise_floor(run_f32, tail, batches: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """How much the float32 labels move under input changes smaller than one grey level of the photo.

    If rounding the input to 256 levels (what int8 does to the first convolution's input) or adding
    uniform noise of ±0.5 grey levels already breaks the guard, no recipe that quantizes the input can pass.
    """
    low, high = min(float(b.min()) for b in batches), max(float(b.max()) for b in batches)
    step = (high - low) / 255
    rng = np.random.default_rng(0)
    variants = {
        f"input rounded to 256 levels (step {step:.2f})": lambda b: np.round((b - low) / step) * step + low,
        "uniform input noise ±0.5 grey level": lambda b: b + rng.uniform(-0.5, 0.5, b.shape),
    }
    for label, change in variants.items():
        got = [tail(run_f32(change(batch).astype(np.float32))) for batch in batches]
        shares, top = agreement(expected, got)
        print(f"float32 with {label}: labels min {min(shares):.2%} mean {np.mean(shares):.2%}, top difference {top:.4f}")


def count_quantized(model) -> tuple[int, int]:
    """(Convolutions with an int8/FakeQuantize weight input, all Convolutions)."""
    total = quantized = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Convolution":
            continue
        total += 1
        source = op.input_value(1).get_node()
        for _ in range(4):
            if source.get_type_name() in ("FakeQuantize",) or (
                source.get_type_name() == "Constant" and str(source.get_element_type()) in ("i8", "u8", "<Type: 'int8_t'>")
            ):
                quantized += 1
                break
            if source.get_input_size() == 0:
                break
            source = source.input_value(0).get_node()
    return quantized, total


# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="pspnet_ade20k", help="registry key (pspnet_ade20k, pspnet_voc, pspnet_cityscapes)")
    parser.add_argument("--weights-dir", help="folder of the .h5 weights (sets SEGDEMO_WEIGHTS_DIR)")
    parser.add_argument(
        "--stand-in",
        help="first write the trained-like stand-in weights of this variant of bench/seeded_weights.py "
        "(committed, unwhitened, shaped_stem) into --weights-dir",
    )
    parser.add_argument("--recipe", action="append", help="recipe name (repeatable; default: default)")
    parser.add_argument("--calibration", default="basic", choices=("basic", "varied"))
    parser.add_argument("--layers", action="store_true", help="print the per-node error report for each recipe")
    parser.add_argument("--layer-photos", type=int, default=2, help="the worst N photos in the layer report")
    parser.add_argument("--time", action="store_true", help="time OpenVINO int8 / float32 and TensorFlow float32")
    parser.add_argument("--bf16", action="store_true", help="also measure OpenVINO bfloat16")
    parser.add_argument("--save-dir", help="save the float32 and quantized OpenVINO models here")
    parser.add_argument("--list", action="store_true", help="print the recipes and exit")
    parser.add_argument(
        "--regions",
        help="sensitivity probe on each quantized model: 'label=start:stop;...' convolution index ranges put back "
        "in float (also always: all weights float, all activations float)",
    )
    parser.add_argument("--noise-floor", action="store_true", help="float32 labels under input rounding / ±0.5 noise")
    parser.add_argument("--save-f32", help="also save the converted float32 model to this .xml path")
    args = parser.parse_args(argv)
    if args.stand_in:
        if not args.weights_dir:
            parser.error("--stand-in writes into --weights-dir: name one")
        from bench.published_weights import write_trained_like_weights

        write_trained_like_weights(args.model, Path(args.weights_dir), stand_in=args.stand_in)
    if args.weights_dir:
        os.environ["SEGDEMO_WEIGHTS_DIR"] = args.weights_dir
    recipes = _recipes()
    if args.list:
        for name, recipe in recipes.items():
            print(f"{name}: {recipe}")
        return 0

    import openvino

    loaded, network, photo_names, pixels, batches = load(args.model)
    tail = loaded.tail
    started = time.perf_counter()
    model_f32 = convert(network)
    if args.save_f32:
        openvino.save_model(model_f32, args.save_f32, compress_to_fp16=False)
    print(f"{args.model}: converted in {time.perf_counter() - started:.1f} s")
    expected = [tail(loaded.raw(batch)) for batch in batches]
    f32 = compile_model(model_f32)
    shares, top = agreement(expected, [tail(run(f32, batch)) for batch in batches])
    print(f"OpenVINO float32: labels min {min(shares):.2%} mean {np.mean(shares):.2%}, top difference {top:.4f}")
    if args.noise_floor:
        noise_floor(lambda b: run(f32, b), tail, batches, expected)
    if args.bf16:
        bf16 = compile_model(model_f32, "bf16")
        shares, top = agreement(expected, [tail(run(bf16, batch)) for batch in batches])
        print(f"OpenVINO bfloat16: labels min {min(shares):.2%} mean {np.mean(shares):.2%}, top difference {top:.4f}")
    preprocess = lambda image: loaded.pipeline.preprocess(image).batch  # noqa: E731
    calibration = [preprocess(image) for image in calibration_images(pixels, args.calibration)]
    validation = [preprocess(image) for image in validation_images(pixels)]
    validation_expected = [tail(loaded.raw(batch)) for batch in validation]

    def validate(compiled, data) -> float:
        """Pooled label agreement on the held-out variants (accuracy control's metric)."""
        got = [tail(np.asarray(compiled([batch])[0], np.float32)) for batch in data]
        return float(np.mean([(a.argmax(-1) == b.argmax(-1)).mean() for a, b in zip(validation_expected, got)]))

    for name in args.recipe or ["default"]:
        started = time.perf_counter()
        try:
            model_int8 = quantize(model_f32, calibration, recipes[name], validation, validate)
        except Exception as error:  # a failing recipe is a result too
            print(f"[{name}] failed: {type(error).__name__}: {error}")
            continue
        quantize_seconds = time.perf_counter() - started
        int8 = compile_model(model_int8)
        got = [tail(run(int8, batch)) for batch in batches]
        shares, top = agreement(expected, got)
        held = validate(int8, validation)
        quantized, total = count_quantized(model_int8)
        verdict = "PASS" if min(shares) >= GUARD_AGREEMENT and top <= GUARD_TOP_DIFFERENCE else "fail"
        print(
            f"[{name}] calibration {args.calibration} ({len(calibration)} inputs), quantized in {quantize_seconds:.0f} s, "
            f"{quantized}/{total} convolutions int8: labels min {min(shares):.2%} mean {np.mean(shares):.2%}, "
            f"top difference {top:.4f}, held-out variants {held:.2%}: {verdict}"
        )
        print("   per photo: " + " ".join(f"{n}={s:.2%}" for n, s in zip(photo_names, shares)))
        sys.stdout.flush()
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)
            openvino.save_model(model_int8, os.path.join(args.save_dir, f"{args.model}-{name}.xml"), compress_to_fp16=False)
        if args.regions is not None:
            count = sum(op.get_type_name() == "Convolution" for op in model_f32.get_ordered_ops())
            probes = {
                "all weights float (activations int8)": (range(count), False, True),
                "all activations float (weights int8)": (range(count), True, False),
            }
            for part in filter(None, args.regions.split(";")):
                label, span = part.split("=")
                start, stop = (int(x) for x in span.split(":"))
                probes[f"float convolutions {start}..{stop - 1} ({label})"] = (range(start, stop), True, True)
            for label, (indices, activations, weights) in probes.items():
                probe = compile_model(float_region(model_int8, model_f32, indices, activations, weights))
                shares, top = agreement(expected, [tail(run(probe, batch)) for batch in batches])
                print(f"   probe {label}: labels min {min(shares):.2%} mean {np.mean(shares):.2%}, top difference {top:.4f}")
            sys.stdout.flush()
        if args.layers:
            worst = list(np.argsort(shares)[: args.layer_photos])
            layer_report(network, model_f32, model_int8, batches, photo_names, worst)
        if args.time:
            seconds = timing(
                {
                    "OpenVINO int8": lambda b: run(int8, b),
                    "OpenVINO float32": lambda b: run(f32, b),
                    "TensorFlow float32": loaded.raw,
                },
                batches[0],
            )
            print("   seconds per photo (network only): " + ", ".join(f"{k} {v:.3f}" for k, v in seconds.items()))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
