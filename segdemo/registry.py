"""The model registry: one frozen `ModelSpec` per model.

This table drives everything else: the UI lists it, the runtime builds and loads from it,
training scripts read their architecture from it and the tests are parametrised over it.
Preprocessing facts (colour mode, input size, padding, scaling, means, channel order) live
here and in the pipeline objects (`segdemo.pipelines`) each spec carries, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from segdemo import palettes
from segdemo.pipelines import BinaryPipeline, PSPNetPipeline, pspnet_pipelines

BINARY = "binary"
MULTICLASS = "multiclass"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app, the loader, training and the tests need to know about one model.

    Attributes:
        key: stable identifier used by `predict()`, the API and outside scripts.
        title: human-readable name shown in the UI.
        family: the data the model was trained on: "eliret", "membrane" or "pspnet".
        task: `BINARY` (one sigmoid/grey output) or `MULTICLASS` (softmax over `classes`).
        architecture: builder name in `segdemo.architectures.BUILDERS`.
        arch_kwargs: keyword arguments for that builder.
        colour_mode: "grey" or "rgb": what the network expects.
        input_size: (height, width) the network runs at; None for fully convolutional
            models that run at the image's own size.
        classes: class names; for binary models (background, foreground).
        palette: one RGB colour per class.
        weights_file: file name of the trained weights inside the weights folder.
        default_threshold: the threshold the UI starts with.
        pipelines: the pre/postprocessing pipelines the model can run with, the default
            first (`segdemo.pipelines`); a pipeline's `network_options` select a variant of
            the network (PSPNet's resize layers and strides).
        raw_output_layer: the layer whose output is the network's raw output, which the
            output cache keeps (the layers after it are a resize and a softmax that cost more
            memory than they are worth keeping); None: the network's own output.
        published_weights: for pretrained models, the entry of `weights/manifest.json` that
            says where the published weight file comes from; None for models trained here.
        description: one line for the UI.
    """

    key: str
    title: str
    family: str
    task: str
    architecture: str
    colour_mode: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    weights_file: str
    arch_kwargs: Mapping[str, object] = field(default_factory=dict)
    pipelines: tuple[BinaryPipeline | PSPNetPipeline, ...] = ()
    input_size: tuple[int, int] | None = None
    default_threshold: float = 0.5
    published_weights: str | None = None
    raw_output_layer: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        # Freeze the kwargs mapping so that a spec really cannot change after creation.
        object.__setattr__(self, "arch_kwargs", MappingProxyType(dict(self.arch_kwargs)))
        if self.task not in (BINARY, MULTICLASS):
            raise ValueError(f"{self.key}: unknown task {self.task!r}")
        if self.colour_mode not in ("grey", "rgb"):
            raise ValueError(f"{self.key}: unknown colour mode {self.colour_mode!r}")
        if len(self.classes) != len(self.palette):
            raise ValueError(f"{self.key}: {len(self.classes)} classes but {len(self.palette)} colours")
        names = self.pipeline_names
        if not names or len(set(names)) != len(names):
            raise ValueError(f"{self.key}: needs at least one pipeline, each with its own name")

    @property
    def channels(self) -> int:
        return 1 if self.colour_mode == "grey" else 3

    @property
    def fully_convolutional(self) -> bool:
        return self.input_size is None

    @property
    def pipeline_names(self) -> tuple[str, ...]:
        return tuple(pipeline.name for pipeline in self.pipelines)

    @property
    def default_pipeline(self) -> BinaryPipeline | PSPNetPipeline:
        return self.pipelines[0]

    def pipeline(self, name: str | None = None) -> BinaryPipeline | PSPNetPipeline:
        """The pipeline called `name` (None: the default), or a ValueError that lists them."""
        if name is None:
            return self.default_pipeline
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        raise ValueError(f"Unknown pipeline {name!r} for {self.key}; choose one of {', '.join(self.pipeline_names)}.")


def _eliret(key: str, title: str, architecture: str, description: str, linear_output: bool = False, **kwargs) -> ModelSpec:
    """An eliret model: 32×32 grey images, runs fully convolutionally at any size."""
    # Three stride-2 stages (FCN) or three poolings (U-Net): sides are padded to multiples of 8.
    pipeline = BinaryPipeline("fully_convolutional", size_multiple=8, linear_output=linear_output)
    return ModelSpec(
        key=key,
        title=title,
        family="eliret",
        task=BINARY,
        architecture=architecture,
        colour_mode="grey",
        classes=palettes.BINARY_CLASSES,
        palette=palettes.BINARY_PALETTE,
        weights_file=f"{key}.weights.h5",
        pipelines=(pipeline,),
        description=description,
        **kwargs,
    )


_SPECS = (
    _eliret(
        "fcn",
        "FCN",
        "fcn",
        "Lecture program 2: three strided 5×5 convolutions down, three transposed up; MSE.",
        linear_output=True,
    ),
    _eliret(
        "unet",
        "U-Net",
        "unet",
        "Lecture program 4: four-level U-Net with skip connections, sigmoid output; MSE.",
        arch_kwargs={"base_filters": 16},
    ),
    _eliret(
        "fcn_aug",
        "FCN + augmentation",
        "fcn",
        "The same FCN trained on randomly shifted (±70 %) and flipped copies: finds off-centre objects.",
        linear_output=True,
    ),
    _eliret(
        "unet_aug",
        "U-Net + augmentation",
        "unet",
        "The same U-Net trained on randomly shifted and flipped copies: sharp corners on large images.",
        arch_kwargs={"base_filters": 16},
    ),
    _eliret(
        "fcn_skip",
        "FCN + skips (homework)",
        "fcn",
        "Homework: the FCN with U-Net-style skip connections between same-size maps.",
        arch_kwargs={"skip_connections": True},
        linear_output=True,
    ),
    _eliret(
        "unet_strided",
        "U-Net, 3×3 only (homework)",
        "unet",
        "Homework: a U-Net of 3×3 convolutions only: strided convolutions down, transposed up.",
        arch_kwargs={"base_filters": 16, "strided": True},
    ),
)


def _membrane(key: str, title: str, description: str, skip_connections: bool, size: int = 128) -> ModelSpec:
    """A membrane model: size×size grey input; images of any size are resized to it and back.
    The network mirrors an eighth of the side beyond each border and crops it from its output
    (the U-Net paper's overlap-tile strategy; docs/membranes.md)."""
    return ModelSpec(
        key=key,
        title=title,
        family="membrane",
        task=BINARY,
        architecture="membrane_unet",
        arch_kwargs={"base_filters": 32, "input_size": (size, size), "skip_connections": skip_connections, "mirror": size // 8},
        colour_mode="grey",
        input_size=(size, size),
        classes=palettes.MEMBRANE_CLASSES,
        palette=palettes.MEMBRANE_PALETTE,
        weights_file=f"{key}.weights.h5",
        # The network predicts "cell interior" (label 255) as the lecture's does; membranes are 1 - output.
        pipelines=(BinaryPipeline("resize", input_size=(size, size), inverted=True),),
        description=description,
    )


_SPECS += (
    _membrane(
        "membrane_unet",
        "Membrane U-Net",
        "Lecture programs 6–8: U-Net with BatchNormalization on ISBI-2012 EM slices (32 base filters for the CPU).",
        skip_connections=True,
    ),
    _membrane(
        "membrane_noskip",
        "Membrane U-Net, no skips",
        "The lecture exercise: the same network without skip connections, to see why skips matter.",
        skip_connections=False,
    ),
    _membrane(
        "membrane_unet_256",
        "Membrane U-Net, 256×256",
        "The lecture exercise after program 7: the same U-Net at 256×256, where membranes are 2–4 pixels wide.",
        skip_connections=True,
        size=256,
    ),
)


def _pspnet(key: str, title: str, layers: int, classes, palette, input_size: int, published: str, description: str) -> ModelSpec:
    """A pretrained PSPNet for photos: RGB input, the published Keras-2 weights."""
    return ModelSpec(
        key=key,
        title=title,
        family="pspnet",
        task=MULTICLASS,
        architecture="pspnet",
        arch_kwargs={"layers": layers, "classes": len(classes), "input_size": input_size},
        colour_mode="rgb",
        input_size=(input_size, input_size),
        classes=classes,
        palette=palette,
        weights_file=f"{published}.h5",
        published_weights=published,
        pipelines=pspnet_pipelines(layers, input_size),
        raw_output_layer="conv6",  # class scores at 1/8 of the input: 60×60×C at 473
        default_threshold=0.0,  # every pixel gets its most probable class
        description=description,
    )


_SPECS += (
    _pspnet(
        "pspnet_voc",
        "PSPNet-101 (Pascal VOC 2012)",
        101,
        palettes.VOC_CLASSES,
        palettes.VOC_PALETTE,
        473,
        "pspnet101_voc2012",
        "Lecture program 9: 20 object classes (people, animals, vehicles, furniture) and background.",
    ),
    _pspnet(
        "pspnet_ade20k",
        "PSPNet-50 (ADE20K)",
        50,
        palettes.ADE20K_CLASSES,
        palettes.ADE20K_PALETTE,
        473,
        "pspnet50_ade20k",
        "Lecture program 9: 150 scene classes (wall, sky, floor, tree, person, table, ...).",
    ),
    _pspnet(
        "pspnet_cityscapes",
        "PSPNet-101 (Cityscapes)",
        101,
        palettes.CITYSCAPES_CLASSES,
        palettes.CITYSCAPES_PALETTE,
        713,
        "pspnet101_cityscapes",
        "Lecture program 9: 19 street-scene classes (road, car, person, building, sky, ...).",
    ),
)

REGISTRY: Mapping[str, ModelSpec] = MappingProxyType({spec.key: spec for spec in _SPECS})


def get(key: str) -> ModelSpec:
    """The spec for `key`, or a ValueError that lists the known keys."""
    if not isinstance(key, str) or key not in REGISTRY:
        raise ValueError(f"Unknown model {key!r}. Known models: {', '.join(REGISTRY)}.")
    return REGISTRY[key]


_REDUCED_SEPARATOR = "~"


def reduced_pspnet(base: str, layers: int, classes: int, input_size: int) -> ModelSpec:
    """A smaller network of a registry PSPNet's kind, for tests and benches: `layers` (50 or 101),
    the first `classes` of its classes, `input_size` pixels square; the same pipelines' facts. Its
    weights are a Keras 3 file named after its key, which says what it is (`lookup` rebuilds the
    spec from it in another process, e.g. the engines' measurement).

    Args:
        base: a PSPNet's registry key.
        layers: 50 or 101.
        classes: how many of the base's classes, at least 2.
        input_size: the network's square input, at least 65.
    """
    spec = get(base)
    if spec.family != "pspnet" or layers not in (50, 101) or not 2 <= classes <= len(spec.classes) or input_size < 65:
        raise ValueError(f"No reduced PSPNet of {base} with {layers} layers, {classes} classes, input {input_size}.")
    key = f"{base}{_REDUCED_SEPARATOR}{layers}-{classes}-{input_size}"
    return replace(
        spec,
        key=key,
        title=f"{spec.title}, reduced ({layers} layers, {classes} classes, {input_size} px)",
        arch_kwargs=MappingProxyType({"layers": layers, "classes": classes, "input_size": input_size}),
        input_size=(input_size, input_size),
        classes=spec.classes[:classes],
        palette=spec.palette[:classes],
        pipelines=pspnet_pipelines(layers, input_size),
        published_weights=None,
        weights_file=f"{key}.weights.h5",
    )


def lookup(key: str) -> ModelSpec:
    """`get(key)`, or the reduced PSPNet a `reduced_pspnet` key names."""
    if isinstance(key, str) and _REDUCED_SEPARATOR in key:
        base, _, shape = key.partition(_REDUCED_SEPARATOR)
        try:
            layers, classes, size = (int(part) for part in shape.split("-"))
        except ValueError:
            raise ValueError(f"Unknown model {key!r}.") from None
        return reduced_pspnet(base, layers, classes, size)
    return get(key)


def keys(family: str | None = None) -> list[str]:
    """Registry keys, optionally only those of one family, in registry order."""
    return [key for key, spec in REGISTRY.items() if family is None or spec.family == family]
