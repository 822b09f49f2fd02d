"""Looking inside the networks: one module per view of the "Look inside" tab.

Everything here runs the real models: images go through the model's own pipeline
(`spec.pipeline().preprocess`), then through `runtime.get(key).intermediate(...)`, the same
network (same layers, same weights) that `predict()` runs. Nothing here imports Gradio.

- `layers`: `layer_list`, every layer with its output shape at a given input and its part of the
  network (encoder, bottleneck, decoder, skip; for PSPNet also pyramid), and `feature_maps`, one
  layer's channels as a grid of small images (the strongest 16 by mean activation, or all when
  fewer), with the layer's spatial size written on it.
- `skips`: `skip_comparison`, the decoder of a network with skip connections beside the same
  network without them, on one image.
- `pyramid_pooling`: `pyramid`, PSPNet's four pooled branches as pictures, and the class map with
  branches switched off (their part of the concatenation `conv5_3_concat` zeroed, the rest of the
  network run on it); `PyramidProbe` and the cache of one photo's network outputs.
- `receptive`: `receptive_field`, the input pixels one cell of PSPNet's 1/8 feature map sees,
  from the layers' kernels, strides and dilations, with and without the dilations of stages 4 and 5.
- `blocks`: `building_block`, Conv2D, UpSampling2D, Conv2DTranspose, MaxPooling2D and a dilated
  convolution on a tiny image, computed by the real Keras layers with the weights set by hand.
- `cards`: `model_card`, parameters, multiply-adds, measured time, training figures and a diagram.
- `pictures`: the drawing helpers they share.

The names below are the package's public API (`from segdemo import inside; inside.pyramid(...)`).
"""

from segdemo.inside.blocks import (
    EXAMPLE_IMAGE,
    EXAMPLE_KERNEL,
    MAX_BLOCK_SIDE,
    OPERATIONS,
    building_block,
    building_block_picture,
    number_table,
)
from segdemo.inside.cards import (
    LECTURE_FIGURES,
    ROLE_COLOURS,
    ModelCard,
    diagram,
    lecture_figures,
    model_card,
    multiply_adds,
    training_figures,
)
from segdemo.inside.layers import (
    MAX_CHANNELS,
    PASS_THROUGH,
    PYRAMID_CONCAT,
    ROLES,
    FeatureMaps,
    LayerInfo,
    channel_grid,
    default_input_shape,
    feature_maps,
    inbound,
    layer_list,
    layers_of,
)
from segdemo.inside.pictures import colourise, side_by_side
from segdemo.inside.pyramid_pooling import PYRAMID_CACHE_ENTRIES, PyramidProbe, PyramidView, branch_component, pyramid
from segdemo.inside.receptive import PYRAMID_FEATURES, Field, ReceptiveFieldView, pspnet_fields, receptive_field, receptive_fields
from segdemo.inside.skips import SKIP_PAIRS, SkipComparison, skip_comparison

__all__ = [
    "EXAMPLE_IMAGE",
    "EXAMPLE_KERNEL",
    "LECTURE_FIGURES",
    "MAX_BLOCK_SIDE",
    "MAX_CHANNELS",
    "OPERATIONS",
    "PASS_THROUGH",
    "PYRAMID_CACHE_ENTRIES",
    "PYRAMID_CONCAT",
    "PYRAMID_FEATURES",
    "ROLES",
    "ROLE_COLOURS",
    "SKIP_PAIRS",
    "FeatureMaps",
    "Field",
    "LayerInfo",
    "ModelCard",
    "PyramidProbe",
    "PyramidView",
    "ReceptiveFieldView",
    "SkipComparison",
    "branch_component",
    "building_block",
    "building_block_picture",
    "channel_grid",
    "colourise",
    "default_input_shape",
    "diagram",
    "feature_maps",
    "inbound",
    "layer_list",
    "layers_of",
    "lecture_figures",
    "model_card",
    "multiply_adds",
    "number_table",
    "pspnet_fields",
    "pyramid",
    "receptive_field",
    "receptive_fields",
    "side_by_side",
    "skip_comparison",
    "training_figures",
]
