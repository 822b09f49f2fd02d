"""PSPNet-50 and PSPNet-101 (Zhao et al., 2017) rebuilt in Keras 3.

The networks carry the layer names of the published Keras-2 weight files
(`pspnet50_ade20k.h5`, `pspnet101_voc2012.h5`, `pspnet101_cityscapes.h5`), so that
`segdemo.legacy_h5.load_legacy_weights` can set them by name.

Structure (channels last):

- a stem of three 3×3 convolutions (`conv1_1_3x3_s2`, `conv1_2_3x3`, `conv1_3_3x3`), each
  followed by batch normalisation (`<conv>_bn`) and ReLU, then a 3×3 stride-2 max pooling;
- a dilated ResNet of bottleneck units `conv{L}_{i}` in stages L = 2..5 (3, 4, 6, 3 units for
  PSPNet-50; 3, 4, 23, 3 for PSPNet-101); only stage 3 strides, so the feature map is 1/8 of
  the input (60×60 at 473, 90×90 at 713);
- the pyramid pooling module: average pooling to 6×6, 3×3, 2×2 and 1×1 bins, a 1×1
  convolution `conv5_3_pool{b}_conv` with batch normalisation and ReLU per bin, bilinear
  resizing back to the feature map, concatenated with the features;
- the head `conv5_4` (3×3) → `conv5_4_bn` → ReLU → dropout → `conv6` (1×1, the only
  convolution with a bias) → bilinear resize to the input size → softmax.

Two variants differ inside the network (`segdemo.pipelines` says which pipeline uses which):

- `align_corners=True`, as the Caffe networks the weights were trained with: resize layers are
  bilinear with aligned corners; `False`: `tf.image.resize` bilinear (half-pixel centres), as
  the keras-segmentation library the lecture used;
- `stride_on="3x3"`: the first unit of stage 3 strides on `conv3_1_3x3` (Caffe's 101-layer
  networks); `"1x1_reduce"`: on `conv3_1_1x1_reduce` (Caffe's PSPNet-50 and every library
  network). The projection `conv3_1_1x1_proj` always strides.

Preprocessing is not part of the model: it takes a float32 image from which the means have
been subtracted (means and channel order are the pipeline's business).
"""

from __future__ import annotations

import keras
import tensorflow as tf

STRIDES_ON = ("3x3", "1x1_reduce")
UNITS_PER_STAGE = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
STAGE_WIDTHS = (1, 2, 4, 8)  # m: the unit has 64m reduce/3x3 filters and 256m output channels
STAGE_DILATIONS = (1, 1, 2, 4)
PYRAMID_BINS = (6, 3, 2, 1)  # concatenated in this order after the features
BN_MOMENTUM = 0.95
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="segdemo")
class BilinearResize(keras.layers.Layer):
    """Resizes a (batch, H, W, C) tensor bilinearly to a fixed size.

    Args:
        size: the (height, width) of the output.
        align_corners: True for Caffe's `Interp` (corner pixels of input and output are
            aligned: `tf.compat.v1.image.resize(..., align_corners=True)`); False for
            `tf.image.resize` (half-pixel centres).
        **kwargs: passed to `keras.layers.Layer` (name, dtype).
    """

    def __init__(self, size: tuple[int, int], align_corners: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.size = (int(size[0]), int(size[1]))
        self.align_corners = bool(align_corners)

    def call(self, inputs):
        if self.align_corners:
            return tf.compat.v1.image.resize(
                inputs, self.size, method=tf.compat.v1.image.ResizeMethod.BILINEAR, align_corners=True
            )
        return tf.image.resize(inputs, self.size, method="bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size[0], self.size[1], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "align_corners": self.align_corners})
        return config


def feature_map_size(input_size: int) -> int:
    """Side of the ResNet's output for a square input: three halvings, rounding up.

    Args:
        input_size: side of the input image (473 → 60, 713 → 90).
    """
    size = input_size
    for _ in range(3):
        size = (size + 1) // 2
    return size


def pyramid_kernels(input_size: int) -> dict[int, int]:
    """Average-pooling kernel (= stride) per pyramid bin for a square input.

    Args:
        input_size: side of the input image; its feature map must divide by 6
            (473 → {6: 10, 3: 20, 2: 30, 1: 60}; 713 → {6: 15, 3: 30, 2: 45, 1: 90}).

    Raises:
        ValueError: when the feature map does not divide into 1, 2, 3 and 6 bins.
    """
    size = feature_map_size(input_size)
    if size % 6:
        raise ValueError(
            f"input_size {input_size} gives a {size}×{size} feature map, which does not split into "
            "1, 2, 3 and 6 bins; use 473 or 713 (the published networks' sizes)"
        )
    return {bins: size // bins for bins in PYRAMID_BINS}


def _conv_bn(x, filters: int, kernel: int, name: str, strides: int = 1, dilation: int = 1, padding: str = "valid"):
    """Convolution without bias followed by batch normalisation `<name>_bn`."""
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        dilation_rate=dilation,
        padding=padding,
        use_bias=False,
        name=name,
    )(x)
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)


def _relu(x, name: str):
    return keras.layers.ReLU(name=name)(x)


def _stem(x):
    """Three 3×3 convolutions (the first with stride 2) and a 3×3 stride-2 max pooling."""
    for name, filters, strides in (("conv1_1_3x3_s2", 64, 2), ("conv1_2_3x3", 64, 1), ("conv1_3_3x3", 128, 1)):
        x = _conv_bn(x, filters, 3, name, strides=strides, padding="same")
        x = _relu(x, f"{name}_relu")
    return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name="pool1")(x)


def _bottleneck(x, unit: str, width: int, dilation: int, project: bool, stride_on: str | None):
    """One bottleneck unit `unit` on x (already through its ReLU).

    Args:
        x: the unit's input, after ReLU.
        unit: the unit's name, e.g. "conv3_1".
        width: m; the unit has 64m reduce and 3×3 filters and 256m output channels.
        dilation: dilation of the 3×3 convolution (and its zero padding).
        project: True for a projection shortcut `<unit>_1x1_proj` (first unit of a stage).
        stride_on: "1x1_reduce" or "3x3" to stride 2 on that convolution (the projection
            then strides too), None for no stride.
    """
    reduce_stride = 2 if stride_on == "1x1_reduce" else 1
    middle_stride = 2 if stride_on == "3x3" else 1
    residual = _conv_bn(x, 64 * width, 1, f"{unit}_1x1_reduce", strides=reduce_stride)
    residual = _relu(residual, f"{unit}_1x1_reduce_relu")
    residual = keras.layers.ZeroPadding2D(padding=dilation, name=f"{unit}_3x3_pad")(residual)
    residual = _conv_bn(residual, 64 * width, 3, f"{unit}_3x3", strides=middle_stride, dilation=dilation)
    residual = _relu(residual, f"{unit}_3x3_relu")
    residual = _conv_bn(residual, 256 * width, 1, f"{unit}_1x1_increase")
    if project:
        shortcut = _conv_bn(x, 256 * width, 1, f"{unit}_1x1_proj", strides=2 if stride_on else 1)
    else:
        shortcut = x
    return keras.layers.Add(name=unit)([residual, shortcut])


def _resnet(x, layers: int, stride_on: str):
    """The dilated ResNet body after the stem, ending with a ReLU (`conv5_3_relu`)."""
    previous = "pool1"
    for stage, (units, width, dilation) in enumerate(zip(UNITS_PER_STAGE[layers], STAGE_WIDTHS, STAGE_DILATIONS), start=2):
        for index in range(1, units + 1):
            unit = f"conv{stage}_{index}"
            x = _relu(x, f"{previous}_relu")
            x = _bottleneck(
                x,
                unit,
                width,
                dilation,
                project=index == 1,
                stride_on=stride_on if (stage == 3 and index == 1) else None,
            )
            previous = unit
    return _relu(x, f"{previous}_relu")


def _pyramid_pooling(x, input_size: int, align_corners: bool):
    """Pyramid pooling: features concatenated with pooled, convolved, resized bins 6, 3, 2, 1."""
    size = feature_map_size(input_size)
    branches = [x]
    for bins, kernel in pyramid_kernels(input_size).items():
        name = f"conv5_3_pool{bins}"
        branch = keras.layers.AveragePooling2D(pool_size=kernel, strides=kernel, name=name)(x)
        branch = _conv_bn(branch, 512, 1, f"{name}_conv")
        branch = _relu(branch, f"{name}_conv_relu")
        branch = BilinearResize((size, size), align_corners=align_corners, name=f"{name}_interp")(branch)
        branches.append(branch)
    return keras.layers.Concatenate(axis=-1, name="conv5_3_concat")(branches)


def _head(x, classes: int, input_size: int, align_corners: bool):
    """conv5_4 → BN → ReLU → dropout → conv6 → resize to the input → softmax."""
    x = _conv_bn(x, 512, 3, "conv5_4", padding="same")
    x = _relu(x, "conv5_4_relu")
    x = keras.layers.Dropout(0.1, name="conv5_4_dropout")(x)
    x = keras.layers.Conv2D(classes, 1, name="conv6")(x)
    x = BilinearResize((input_size, input_size), align_corners=align_corners, name="conv6_interp")(x)
    return keras.layers.Softmax(axis=-1, name="softmax")(x)


def build_pspnet(
    layers: int = 101,
    classes: int = 21,
    input_size: int = 473,
    align_corners: bool = True,
    stride_on: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds PSPNet-50 or PSPNet-101 with the layer names of the published weights.

    Args:
        layers: 50 or 101, the depth of the ResNet.
        classes: number of output classes (21 Pascal VOC, 150 ADE20K, 19 Cityscapes).
        input_size: side of the square input: 473 (VOC, ADE20K) or 713 (Cityscapes); any
            size whose 1/8 feature map (rounded up) divides by 6 also builds.
        align_corners: bilinear resize layers with aligned corners (Caffe's `Interp`), or
            with half-pixel centres (`tf.image.resize`, the keras-segmentation library).
        stride_on: which convolution of the first stage-3 unit strides: "3x3" or
            "1x1_reduce"; None: "3x3" for the 101-layer network with aligned corners (the
            Caffe networks), "1x1_reduce" otherwise.
        name: the model's name; defaults to "pspnet50" / "pspnet101".

    Returns:
        A Keras model mapping a (batch, input_size, input_size, 3) float32 image, already
        mean-subtracted, to (batch, input_size, input_size, classes) softmax probabilities.

    Raises:
        ValueError: for an unknown depth or stride position, a class count below 1 or an
            input size whose feature map cannot be pooled into 1, 2, 3 and 6 bins.
    """
    if layers not in UNITS_PER_STAGE:
        raise ValueError(f"layers must be 50 or 101, got {layers!r}")
    if stride_on is None:
        stride_on = "3x3" if (align_corners and layers == 101) else "1x1_reduce"
    if stride_on not in STRIDES_ON:
        raise ValueError(f"stride_on must be one of {STRIDES_ON}, got {stride_on!r}")
    if int(classes) < 1:
        raise ValueError(f"classes must be at least 1, got {classes!r}")
    pyramid_kernels(input_size)  # validates the size before building anything
    align_corners = bool(align_corners)

    inputs = keras.Input(shape=(input_size, input_size, 3), dtype="float32", name="image")
    x = _stem(inputs)
    x = _resnet(x, layers, stride_on)
    x = _pyramid_pooling(x, input_size, align_corners)
    outputs = _head(x, int(classes), input_size, align_corners)
    return keras.Model(inputs, outputs, name=name or f"pspnet{layers}")
