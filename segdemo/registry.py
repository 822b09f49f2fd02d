"""The model registry: one frozen `ModelSpec` per model.

This table drives everything else: the UI lists it, the runtime builds and loads from it,
training scripts read their architecture from it and the tests are parametrised over it.
Preprocessing facts (colour mode, input size, padding, scaling) live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from segdemo import palettes

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
        color_mode: "gray" or "rgb": what the network expects.
        input_size: (height, width) the network runs at; None for fully convolutional
            models that run at the image's own size.
        size_multiple: fully convolutional inputs are padded to a multiple of this.
        classes: class names; for binary models (background, foreground).
        palette: one RGB colour per class.
        weights_file: file name of the trained weights inside the weights folder.
        default_threshold: the threshold the UI starts with.
        output_is_linear: the network's last layer is linear (trained with MSE on 0/1 masks),
            so its output is clipped to [0, 1] before use.
        invert_output: the network predicts the *background* probability (the membrane
            models are trained on "cell interior = 1" as in the lecture); the foreground
            score is 1 - output.
        pipelines: names of the pre/postprocessing pipelines the model can run with (each
            may build a slightly different network); empty when there is one way.
        published_weights: for pretrained models, the entry of `weights/manifest.json` that
            says where the published weight file comes from; None for models trained here.
        description: one line for the UI.
    """

    key: str
    title: str
    family: str
    task: str
    architecture: str
    color_mode: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    weights_file: str
    arch_kwargs: Mapping[str, object] = field(default_factory=dict)
    input_size: tuple[int, int] | None = None
    size_multiple: int = 1
    default_threshold: float = 0.5
    output_is_linear: bool = False
    invert_output: bool = False
    published_weights: str | None = None
    pipelines: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        # Freeze the kwargs mapping so that a spec really cannot change after creation.
        object.__setattr__(self, "arch_kwargs", MappingProxyType(dict(self.arch_kwargs)))
        if self.task not in (BINARY, MULTICLASS):
            raise ValueError(f"{self.key}: unknown task {self.task!r}")
        if self.color_mode not in ("gray", "rgb"):
            raise ValueError(f"{self.key}: unknown colour mode {self.color_mode!r}")
        if len(self.classes) != len(self.palette):
            raise ValueError(f"{self.key}: {len(self.classes)} classes but {len(self.palette)} colours")

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "gray" else 3

    @property
    def fully_convolutional(self) -> bool:
        return self.input_size is None


def _eliret(key: str, title: str, architecture: str, description: str, **kwargs) -> ModelSpec:
    """An eliret model: 32×32 grey images, runs fully convolutionally at any size."""
    return ModelSpec(
        key=key,
        title=title,
        family="eliret",
        task=BINARY,
        architecture=architecture,
        color_mode="gray",
        classes=palettes.BINARY_CLASSES,
        palette=palettes.BINARY_PALETTE,
        weights_file=f"{key}.weights.h5",
        size_multiple=8,  # three stride-2 stages (FCN) or three poolings (U-Net)
        description=description,
        **kwargs,
    )


_SPECS = (
    _eliret(
        "fcn",
        "FCN",
        "fcn",
        "Lecture program 2: three strided 5×5 convolutions down, three transposed up; MSE.",
        output_is_linear=True,
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
        output_is_linear=True,
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
        output_is_linear=True,
    ),
    _eliret(
        "unet_strided",
        "U-Net, 3×3 only (homework)",
        "unet",
        "Homework: a U-Net of 3×3 convolutions only: strided convolutions down, transposed up.",
        arch_kwargs={"base_filters": 16, "strided": True},
    ),
)


def _membrane(key: str, title: str, description: str, skip_connections: bool) -> ModelSpec:
    """A membrane model: 128×128 grey input; images of any size are resized to it and back."""
    return ModelSpec(
        key=key,
        title=title,
        family="membrane",
        task=BINARY,
        architecture="membrane_unet",
        arch_kwargs={"base_filters": 32, "input_size": (128, 128), "skip_connections": skip_connections},
        color_mode="gray",
        input_size=(128, 128),
        classes=palettes.MEMBRANE_CLASSES,
        palette=palettes.MEMBRANE_PALETTE,
        weights_file=f"{key}.weights.h5",
        invert_output=True,
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
        color_mode="rgb",
        input_size=(input_size, input_size),
        classes=classes,
        palette=palette,
        weights_file=f"{published}.h5",
        published_weights=published,
        pipelines=("original", "keras_segmentation"),
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


def keys(family: str | None = None) -> list[str]:
    """Registry keys, optionally only those of one family, in registry order."""
    return [key for key, spec in REGISTRY.items() if family is None or spec.family == family]
