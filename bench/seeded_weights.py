"""Weights for a PSPNet made from a seed and each layer's name alone (pure numpy).

The same arrays come out in any framework: the lecture's library (Keras 2, in a separate
environment, see bench/keras_segmentation_reference.py) and our Keras 3 rebuild get identical
weights without sharing a file, so a fixture recorded with the library can be checked here.
Values are scaled so that a deep random network keeps its activations in a sane range:
convolution kernels are He-normal, batch normalisation holds mild random statistics.
"""

from __future__ import annotations

import zlib

import numpy as np


def seeded_array(seed: int, layer_name: str, index: int, shape: tuple[int, ...], n_weights: int) -> np.ndarray:
    """The `index`-th weight of layer `layer_name` (of `n_weights`), shaped `shape`, as float32.

    Args:
        seed: the run's seed.
        layer_name: the layer's name (the published files' names).
        index: which of the layer's weights (Conv2D: kernel, bias; BatchNormalization: gamma,
            beta, moving mean, moving variance).
        shape: the weight's shape.
        n_weights: how many weights the layer has (4 marks batch normalisation).
    """
    rng = np.random.default_rng([seed, zlib.crc32(layer_name.encode()), index])
    if len(shape) == 4:  # a convolution kernel (kh, kw, in, out)
        fan_in = shape[0] * shape[1] * shape[2]
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    if n_weights == 4:  # batch normalisation: gamma, beta, moving mean, moving variance
        low, high = ((0.6, 1.0), (-0.1, 0.1), (-0.1, 0.1), (0.8, 1.2))[index]
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.normal(0.0, 0.1, shape).astype(np.float32)  # a bias


def seeded_weights(layers, seed: int) -> dict[str, list[np.ndarray]]:
    """{layer name: its weights} for every weighted layer of a model (Keras 2 or 3 layers)."""
    result = {}
    for layer in layers:
        current = layer.get_weights()
        if current:
            result[layer.name] = [
                seeded_array(seed, layer.name, index, tuple(array.shape), len(current)) for index, array in enumerate(current)
            ]
    return result


def apply_seeded_weights(model, seed: int) -> None:
    """Sets every weighted layer of `model` from the recipe."""
    for name, arrays in seeded_weights(model.layers, seed).items():
        model.get_layer(name).set_weights(arrays)


# ---------------------------------------------------------------------------------------------
# Weights that behave like trained ones.
#
# The recipe above alone gives a deep network whose activations drift layer after layer and
# whose class scores come out nearly flat: every rounding (bfloat16, int8) then flips labels,
# which says nothing about how a trained network would fare. Trained networks have three
# properties the steps below give the seeded one, in this order:
# 1. residual branches that add a small correction to the identity path (ResNets learn this:
#    the last batch normalisation of each branch ends with a small gamma);
# 2. batch-normalisation statistics that match what the layer actually sees (computed from the
#    shipped photos, layer after layer, each with the layers before it already set);
# 3. class scores with a clear winner on most pixels and no class favoured everywhere (the last
#    convolution's biases centre each class, its scale sets the mean top probability).

PROTOTYPES = 12
"""At most this many classes get a prototype (trained networks see a handful of classes per photo)."""
FEATURE_DIMENSIONS = 8
"""The class prototypes live in the span of the features' main directions over the photos."""
RESIDUAL_GAMMA = 0.2
"""Scale of the last batch normalisation's gamma in each residual branch."""
SMALL_RESIDUAL_GAMMA = 0.05
"""The same scale in the "small_branches" variant."""
TARGET_CONFIDENCE = 0.85
"""The mean top-class probability over the calibration photos' pixels, as trained PSPNets give."""
STAND_INS = ("committed", "unwhitened", "shaped_stem", "small_branches")
"""Variants of the recipe, measured in docs/int8.md ("Two more stand-ins"): "committed" is the one
every bench and test uses; "unwhitened" gives the head the features' main directions at their own
scale instead of whitened; "shaped_stem" is that plus the first convolution's filters multiplied by
the square root of the photos' patch covariance (random filters on smooth photos respond weakly, and
the calibrated batch normalisation after them then multiplies pixel noise); "small_branches" is
"unwhitened" with residual branches four times smaller (SMALL_RESIDUAL_GAMMA: a random deep network
amplifies a small change of its input block after block, and smaller branches amplify less)."""


def _run_calibrating(model, batch, on_batch_norm):
    """Runs `model` on `batch` layer by layer (the functional graph in order), calling
    `on_batch_norm(layer, its_input)` before each BatchNormalization layer runs, and freeing every
    intermediate tensor once its last consumer has run (a 101-layer network at 473 fits in memory).

    Returns the tensors of the model's outputs."""
    import keras
    from keras import tree

    consumers: dict[int, int] = {}
    nodes = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            nodes.append(node)
            for tensor in node.input_tensors:
                consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    keep = {id(tensor) for tensor in model.outputs}
    values = {id(model.inputs[0]): batch}
    for node in nodes:
        args, kwargs = node.arguments.fill_in(values)
        layer = node.operation
        if isinstance(layer, keras.layers.BatchNormalization):
            on_batch_norm(layer, args[0])
        # Keras passes `training` on only to layers whose call() takes it.
        outputs = layer(*args, **{**kwargs, "training": False})
        for tensor, value in zip(node.outputs, tree.flatten(outputs)):
            values[id(tensor)] = value
        for tensor in node.input_tensors:
            consumers[id(tensor)] -= 1
            if consumers[id(tensor)] == 0 and id(tensor) not in keep:
                values.pop(id(tensor), None)
    return [values[id(tensor)] for tensor in model.outputs]


def make_trained_like(
    model, batch: np.ndarray, seed: int, confidence: float = TARGET_CONFIDENCE, stand_in: str = "committed"
) -> dict:
    """Gives a PSPNet (any depth, classes, size; built at any precision) seeded weights that behave
    like trained ones on the images in `batch`.

    Args:
        model: a PSPNet from `segdemo.architectures.pspnet.build_pspnet`.
        batch: (N, H, W, 3) float32 network inputs (the pipeline's preprocessing of a few photos).
        seed: the seed of `seeded_array`, for every weight before calibration.
        confidence: the mean top-class probability to aim for over `batch`'s pixels.
        stand_in: one of STAND_INS ("committed" unless measuring the variants).

    Returns:
        What was set: {"scale": the class-score scale, "confidence": the mean top probability
        reached, "classes_seen": how many classes are the top class somewhere in `batch`}.
    """
    import keras

    if stand_in not in STAND_INS:
        raise ValueError(f"stand_in must be one of {', '.join(STAND_INS)}, not {stand_in!r}")
    apply_seeded_weights(model, seed)
    if stand_in == "shaped_stem":
        _shape_first_convolution(model, batch)
    branch_scale = SMALL_RESIDUAL_GAMMA if stand_in == "small_branches" else RESIDUAL_GAMMA
    for layer in model.layers:  # 1. small residual branches
        if layer.name.endswith("_1x1_increase_bn"):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([gamma * branch_scale, beta * branch_scale, mean, variance])

    def calibrate(layer, inputs):  # 2. statistics of what the layer sees
        values = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(inputs, "float32")), np.float64)
        axes = tuple(range(values.ndim - 1))
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, values.mean(axis=axes).astype(np.float32), values.var(axis=axes).astype(np.float32)])

    head = model.get_layer("conv6")
    features_model = keras.Model(model.inputs, head.input)
    features = np.asarray(_run_calibrating(features_model, batch.astype(np.float32), calibrate)[0], np.float64)
    # 3. class scores: centred per class, then scaled to the wanted confidence.
    kernel, _ = head.get_weights()
    classes = kernel.shape[-1]
    flat = features.reshape(-1, features.shape[-1])
    logits, kernel_2d, bias = _prototype_head(flat, classes, seed, whiten=stand_in == "committed")

    def mean_top(scale: float) -> float:
        shifted = logits * scale
        shifted = shifted - shifted.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        return float((probabilities.max(axis=1) / probabilities.sum(axis=1)).mean())

    low, high = 0.0, 1000.0
    for _ in range(60):  # the mean top probability grows with the scale: bisect
        middle = (low + high) / 2
        low, high = (middle, high) if mean_top(middle) < confidence else (low, middle)
    scale = high
    head.set_weights([(kernel_2d * scale).reshape(kernel.shape).astype(np.float32), (bias * scale).astype(np.float32)])
    return {
        "scale": float(scale),
        "confidence": mean_top(scale),
        "classes_seen": int(len(np.unique(logits.argmax(axis=1)))),
    }


def _prototype_head(
    features: np.ndarray, classes: int, seed: int, whiten: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A last convolution that classifies like a trained one: nearest prototype in the features' main directions.

    The features are projected on their FEATURE_DIMENSIONS main directions (whitened), k-means finds
    up to PROTOTYPES clusters there, each cluster gets one class (chosen by the seed), and a class's
    score is minus the squared distance to its prototype: a linear function of the features, hence
    a 1×1 convolution. Regions of similar features get one class with a clear margin; other classes
    score far below.

    With `whiten` False the main directions keep their own scale (the largest at 1), so k-means
    weighs each by the variance it carries.

    Returns:
        (the unit-scale logits on `features`, the kernel (channels × classes), the bias (classes,)).
    """
    rng = np.random.default_rng([seed, 8])
    centre = features.mean(axis=0)
    centred = features - centre
    _, singular, directions = np.linalg.svd(centred[:: max(1, len(centred) // 20000)], full_matrices=False)
    count = len(centred[:: max(1, len(centred) // 20000)])
    scales = singular[:FEATURE_DIMENSIONS] + 1e-12 if whiten else singular[0]
    projection = directions[:FEATURE_DIMENSIONS].T * (np.sqrt(count) / scales)
    points = centred @ projection
    prototypes_count = min(classes, PROTOTYPES)
    sample = points[rng.choice(len(points), size=min(len(points), 20000), replace=False)]
    means = sample[rng.choice(len(sample), size=prototypes_count, replace=False)]
    for _ in range(30):  # k-means
        nearest = ((sample[:, None, :] - means[None]) ** 2).sum(axis=-1).argmin(axis=1)
        means = np.stack(
            [sample[nearest == k].mean(axis=0) if (nearest == k).any() else means[k] for k in range(prototypes_count)]
        )
    chosen = rng.choice(classes, size=prototypes_count, replace=False)
    # score_k(z) = 2 m_k·z - |m_k|^2 (= |z|^2 - |z - m_k|^2), z = (f - centre) @ projection
    kernel = np.zeros((features.shape[1], classes))
    bias = np.full(classes, -4.0 * float((means**2).sum(axis=1).max()) - 4.0)
    kernel[:, chosen] = 2.0 * projection @ means.T
    bias[chosen] = -2.0 * (centre @ projection) @ means.T - (means**2).sum(axis=1)
    logits = features @ kernel + bias
    spread = float(logits[:, chosen].std()) + 1e-12
    return logits / spread, kernel / spread, bias / spread


def _shape_first_convolution(model, batch: np.ndarray, samples: int = 20000) -> None:
    """Multiplies the first convolution's kernel by the square root of the covariance of `batch`'s
    patches (of the kernel's size, reflect-padded, `samples` of them drawn at random), keeping each
    filter's norm: its filters then respond along the directions the photos vary in."""
    import keras

    first = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    arrays = first.get_weights()
    kernel = arrays[0]
    size, outputs = kernel.shape[0], kernel.shape[-1]
    images = batch.astype(np.float64)
    half = size // 2
    padded = np.pad(images, ((0, 0), (half, half), (half, half), (0, 0)), mode="reflect")
    rng = np.random.default_rng(0)
    rows = rng.integers(0, images.shape[1], samples)
    columns = rng.integers(0, images.shape[2], samples)
    which = rng.integers(0, images.shape[0], samples)
    # (kh, kw, channels) order, as the kernel's first three axes.
    patches = np.stack([padded[which, rows + dy, columns + dx, :] for dy in range(size) for dx in range(size)], axis=1).reshape(
        samples, -1
    )
    values, vectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    root = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    flat = kernel.reshape(-1, outputs).astype(np.float64)
    shaped = root @ flat
    shaped *= np.linalg.norm(flat, axis=0) / np.linalg.norm(shaped, axis=0)
    arrays[0] = shaped.reshape(kernel.shape).astype(np.float32)
    first.set_weights(arrays)
