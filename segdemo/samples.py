"""Example images for the app, grouped as the lecture shows them, and the augmentation preview.

Examples always come from the repository's `examples/` folder (listed in `examples/index.json`,
credited in `examples/SOURCES.md`), so a bare clone and a Hugging Face Space, which have no data
folder, show the same ones. Only the generated large images are written at run time, into one
folder in the system's temp directory.

The augmentation preview draws its pairs from the full dataset when a copy is on this machine
(SEGDEMO_DATA_DIR or a verified download in the cache; nothing is downloaded here) and from the
shipped training pairs otherwise; both give the same pairs, so the same seed gives the same figure.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from segdemo import registry, settings
from segdemo.datasets import eliret, membrane
from segdemo.datasets.fetch import DatasetMissingError, DatasetSource, locate
from segdemo.datasets.synthetic import make_large_image

EXAMPLES_DIR = settings.PROJECT_ROOT / "examples"
INDEX_FILE = EXAMPLES_DIR / "index.json"
LANGUAGES = ("en", "pt")

# Groups of examples/index.json.
LECTURE_TEST = "lecture_test"
LARGE = "large"
ELIRET_TRAIN = "eliret_train"
MEMBRANE_LABELLED = "membrane_labelled"
MEMBRANE_TRAIN = "membrane_train"
MEMBRANE_UNLABELLED = "membrane_unlabelled"
PHOTOS = "photos"

GENERATED_SEED = 11
GENERATED_SIZES = ((80, 96), (96, 128))
PREVIEW_PAIRS = 4


@dataclass(frozen=True)
class Example:
    """One shipped example: an image and, where there is one, its ground-truth mask.

    Attributes:
        name: a short name that needs no translation ("076", "maior1", "slice 20").
        group: its group in examples/index.json.
        image: absolute path of the image file.
        mask: absolute path of the mask (eliret: 255 = object; membrane: 255 = cell interior), or None.
        note: a short remark per language ("en", "pt"), e.g. the lecture's figure; may be empty.
    """

    name: str
    group: str
    image: Path
    mask: Path | None = None
    note: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Photo:
    """A shipped photo for the PSPNet tab.

    Attributes:
        name: the file's stem.
        image: absolute path of the JPEG.
        model: the registry key of the PSPNet it suits (pspnet_voc, pspnet_ade20k, pspnet_cityscapes).
        description: what it shows, per language ("en", "pt").
        credit: who took or published it, to show beside it.
        licence: short licence name (SOURCES.md has the full statement).
    """

    name: str
    image: Path
    model: str
    description: dict[str, str]
    credit: str
    licence: str

    def credit_line(self, language: str = "en") -> str:
        """The line to display under the photo, e.g. "Photo: Pixabay (CC0)" or "Foto: Pixabay (CC0)"."""
        if language not in LANGUAGES:
            raise ValueError(f"Unknown language {language!r}; choose one of {', '.join(LANGUAGES)}.")
        return f"{'Foto' if language == 'pt' else 'Photo'}: {self.credit} ({self.licence})"


@functools.cache
def index() -> dict:
    """examples/index.json, read once."""
    if not INDEX_FILE.exists():
        raise ValueError(f"The examples index {INDEX_FILE} is missing: the repository's examples/ folder is incomplete.")
    return json.loads(INDEX_FILE.read_text(encoding="utf-8"))


def group_title(group: str, language: str = "en") -> str:
    """The title of a group of examples in English ("en") or Brazilian Portuguese ("pt")."""
    titles = index()["groups"]
    if group not in titles:
        raise ValueError(f"Unknown example group {group!r}; choose one of {', '.join(titles)}.")
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}; choose one of {', '.join(LANGUAGES)}.")
    return titles[group][language]


def examples(group: str) -> list[Example]:
    """The shipped examples of one group, in the index's order."""
    if group not in index()["groups"]:
        raise ValueError(f"Unknown example group {group!r}; choose one of {', '.join(index()['groups'])}.")
    return [
        Example(
            name=entry["name"],
            group=group,
            image=EXAMPLES_DIR / entry["image"],
            mask=EXAMPLES_DIR / entry["mask"] if entry.get("mask") else None,
            note=dict(entry.get("note", {})),
        )
        for entry in index()["examples"]
        if entry["group"] == group
    ]


def lecture_test_images() -> list[Example]:
    """eliret test images of the lecture's figure 8 (076, 078, 176, 178) and program 5 (077), with masks."""
    return examples(LECTURE_TEST)


def large_images(generated: int = len(GENERATED_SIZES)) -> list[Example]:
    """maior1 and maior2 with their masks, then `generated` larger images from the eliret-like generator.

    The generated ones are written (once) to the temp folder; they are the same on every machine.
    """
    if not 0 <= generated <= len(GENERATED_SIZES):
        raise ValueError(f"generated must be between 0 and {len(GENERATED_SIZES)}, not {generated}.")
    result = examples(LARGE)
    rng = np.random.default_rng(GENERATED_SEED)
    for number, (height, width) in enumerate(GENERATED_SIZES[:generated]):
        image, mask = make_large_image(rng, height, width, objects=5)
        note = {"en": f"generated, {width}×{height}", "pt": f"gerada, {width}×{height}"}
        result.append(
            Example(
                f"generated {number + 1}",
                LARGE,
                _save(image, f"generated_{number}x.png"),
                _save(mask, f"generated_{number}y.png"),
                note,
            )
        )
    return result


def membrane_labelled() -> list[Example]:
    """ISBI-2012 validation slices (20, 22, 24) with their labels (255 = cell interior, 0 = membrane)."""
    return examples(MEMBRANE_LABELLED)


def membrane_unlabelled() -> list[Example]:
    """ISBI-2012 test slices, which have no labels."""
    return examples(MEMBRANE_UNLABELLED)


def photos(model: str | None = None) -> list[Photo]:
    """The shipped photos, all of them or those that suit one PSPNet (a registry key)."""
    if model is not None and model not in registry.keys("pspnet"):
        raise ValueError(f"{model!r} is not a PSPNet; choose one of {', '.join(registry.keys('pspnet'))}.")
    return [
        Photo(
            name=entry["name"],
            image=EXAMPLES_DIR / entry["image"],
            model=entry["model"],
            description=dict(entry["description"]),
            credit=entry["credit"],
            licence=entry["licence"],
        )
        for entry in index()["examples"]
        if entry["group"] == PHOTOS and (model is None or entry["model"] == model)
    ]


def photos_by_model() -> dict[str, list[Photo]]:
    """The shipped photos grouped by the PSPNet they suit, in the registry's order."""
    return {key: photos(key) for key in registry.keys("pspnet")}


def photo_for(path: str | Path | None) -> Photo | None:
    """The shipped photo a file is (or is a copy of, as Gradio's cache keeps the name), or None.

    Lets the UI show a chosen example's credit line.
    """
    if path is None:
        return None
    name = Path(path).name
    return next((photo for photo in photos() if photo.image.name == name), None)


# The lists the app has used so far: (image, truth) path pairs and photo paths.


def eliret_examples() -> list[list[str]]:
    """[image, truth] path pairs: the lecture's test images, maior1/maior2 and the generated large images."""
    return [[str(example.image), str(example.mask)] for example in lecture_test_images() + large_images()]


def membrane_examples() -> list[list[str | None]]:
    """[image, truth] path pairs of EM slices: validation slices with labels, then test slices with None."""
    return [
        [str(example.image), str(example.mask) if example.mask else None]
        for example in membrane_labelled() + membrane_unlabelled()
    ]


def photo_examples() -> list[str]:
    """Paths of the shipped photos, VOC ones first."""
    return [str(photo.image) for photos_of_model in photos_by_model().values() for photo in photos_of_model]


def example_folder() -> Path:
    """The temp folder for examples made at run time (the generated large images)."""
    folder = Path(tempfile.gettempdir()) / "segdemo-examples"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save(array: np.ndarray, name: str) -> Path:
    target = example_folder() / name
    if not target.exists():
        # Write beside the target and rename: two app processes may start at once.
        descriptor, partial = tempfile.mkstemp(suffix=".part", dir=target.parent)
        with os.fdopen(descriptor, "wb") as handle:
            Image.fromarray(np.rint(array * 255).astype(np.uint8)).save(handle, format="PNG")
        os.replace(partial, target)
    return target


def local_dataset(source: DatasetSource) -> Path | None:
    """The dataset's folder if a copy is on this machine, without downloading."""
    try:
        return locate(source, allow_download=False)
    except DatasetMissingError:
        return None


def _shipped_pairs(group: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` shipped pairs of a group, read as the dataset readers read them."""
    pairs = examples(group)
    if count > len(pairs):
        raise ValueError(f"The examples folder holds {len(pairs)} {group} pairs; {count} were asked for.")
    images, masks = [], []
    for example in pairs[:count]:
        # The readers' own conversions: eliret's read_grey, membrane's read_slice / 255; masks at 0.5.
        if group == ELIRET_TRAIN:
            image, mask = eliret.read_grey(example.image), eliret.read_grey(example.mask)
        else:
            image = membrane.read_slice(example.image).astype(np.float32) / 255.0
            mask = membrane.read_slice(example.mask).astype(np.float32) / 255.0
        images.append(image)
        masks.append((mask >= 0.5).astype(np.float32))
    return np.stack(images)[..., None], np.stack(masks)[..., None]


def augmentation_pairs(preset: str, count: int = PREVIEW_PAIRS) -> tuple[np.ndarray, np.ndarray]:
    """`count` original training (image, mask) pairs for the augmentation preview, float32 (N, H, W, 1) in [0, 1].

    From the local dataset when present, otherwise from the shipped examples (the same pairs):
    eliret rows 0, 33, 66 and 99 of treino.csv (32×32); membrane slices 0–3 at full resolution
    (the transform runs there, as in training: see segdemo.augment).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}.")
    if preset == "eliret":
        root = local_dataset(eliret.SOURCE)
        if root is None:
            return _shipped_pairs(ELIRET_TRAIN, count)
        images, masks = eliret.load_split("train", root)
        chosen = np.linspace(0, len(images) - 1, count).astype(int)
        return images[chosen], masks[chosen]
    if preset == "membrane":
        root = local_dataset(membrane.SOURCE)
        if root is None:
            return _shipped_pairs(MEMBRANE_TRAIN, count)
        return membrane.load_slices(list(membrane.TRAIN_SLICES)[:count], root, size=None)
    raise ValueError(f"Unknown dataset {preset!r} for the augmentation preview; choose eliret or membrane.")


def augmentation_preview(
    preset: str,
    seed: int,
    count: int = PREVIEW_PAIRS,
    distortions=None,
    column_titles: list[str] | None = None,
    cell_size: int = 128,
    top: int = 0,
) -> np.ndarray:
    """Original pairs beside augmented copies (the lecture's figure 13), as one RGB figure; for
    the membranes a fifth column holds the U-Net paper's loss weights, moved with the mask.

    Args:
        distortions: a `segdemo.augment.Distortions` (one range per distortion); None: the
            preset's training transforms.
        column_titles: the five column titles (e.g. translated; eliret uses the first four);
            None: English.
        cell_size: the side of each picture in the figure, in pixels (wider titles need more).
        top: blank pixels above the titles (`render.grid`).
    """
    from segdemo import render, runtime

    runtime.import_tensorflow()  # one thread at a time: the app's warm-up may be importing it too
    from segdemo import augment

    images, masks = augmentation_pairs(preset, count)
    # Membrane pairs are shown as the network sees them: transformed at 512×512, then reduced,
    # with the U-Net paper's loss weights moved along (--border-weight in training).
    output_size = registry.get("membrane_unet").input_size[0] if preset == "membrane" else None
    weights = preview_weight_maps(count) if preset == "membrane" else None
    augmented = augment.preview(
        images, masks, preset=preset, seed=seed, output_size=output_size, distortions=distortions, weights=weights
    )
    augmented_images, augmented_masks = augmented[:2]
    heaviest = augmented[2].max() if weights is not None else None
    if output_size is not None:
        images, masks = (np.asarray(array) for array in augment.shrink_pairs(images, masks, output_size))
    cells = [
        [
            render.grey(images[i, ..., 0]),
            render.binary(masks[i, ..., 0]),
            render.grey(augmented_images[i, ..., 0]),
            render.binary(augmented_masks[i, ..., 0]),
            *([weight_picture(augmented[2][i], heaviest)] if weights is not None else []),
        ]
        for i in range(len(images))
    ]
    titles = column_titles or ["original image", "original mask", "augmented image", "augmented mask", "loss weights"]
    return render.grid(cells, titles[: len(cells[0])], size=cell_size, top=top)


@functools.lru_cache(maxsize=2)
def preview_weight_maps(count: int) -> np.ndarray:
    """The U-Net paper's weight maps of the membrane preview's pairs at full resolution (0.05–0.08 s
    a slice, so computed once a process: the pairs are always the same slices)."""
    from segdemo.border_weights import weight_maps

    return weight_maps(augmentation_pairs("membrane", count)[1])


def weight_picture(weights: np.ndarray, heaviest: float) -> np.ndarray:
    """Loss weights on the viridis scale: 1 (cell interiors, lone membranes) dark blue, `heaviest`
    yellow. Reduced to the network's side, the heaviest weigh about 7.5 of the paper's 11."""
    from segdemo.maps import colour_scale

    return colour_scale((weights - 1.0) / max(float(heaviest) - 1.0, 1e-6))
