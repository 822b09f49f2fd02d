"""Example images for the app and the augmentation preview.

Examples come from the datasets when a copy is on this machine (SEGDEMO_DATA_DIR or the
download cache; nothing is downloaded here) and from the large-image generator otherwise,
so the app always has something to show. All example files are copied into one folder in
the system's temp directory, the only place the app serves them from.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from segdemo import registry, settings
from segdemo.datasets import eliret, membrane
from segdemo.datasets.fetch import DatasetMissingError, DatasetSource, locate
from segdemo.datasets.synthetic import make_large_image

GENERATED_SEED = 11
ELIRET_TEST_EXAMPLES = ("075", "080", "090", "175", "185", "195")
MEMBRANE_LABELLED_EXAMPLES = (20, 22, 24)
MEMBRANE_TEST_EXAMPLES = (0, 7)


def example_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "segdemo-examples"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_dataset(source: DatasetSource) -> Path | None:
    """The dataset's folder if a copy is on this machine, without downloading."""
    try:
        return locate(source, allow_download=False)
    except DatasetMissingError:
        return None


def _copy(path: Path, name: str) -> str:
    target = example_folder() / name
    if not target.exists():
        shutil.copyfile(path, target)
    return str(target)


def _save(array: np.ndarray, name: str) -> str:
    target = example_folder() / name
    Image.fromarray(np.rint(array * 255).astype(np.uint8)).save(target)
    return str(target)


def eliret_examples() -> list[list[str]]:
    """[image, truth] pairs: eliret test images, maior1/maior2 and generated large images."""
    examples = []
    root = local_dataset(eliret.SOURCE)
    if root is not None:
        for stem in ELIRET_TEST_EXAMPLES:
            examples.append([_copy(root / f"{stem}x.png", f"eliret_{stem}x.png"), _copy(root / f"{stem}y.png", f"eliret_{stem}y.png")])
        for image, mask in eliret.large_pairs(root):
            examples.append([_copy(image, f"eliret_{image.name}"), _copy(mask, f"eliret_{mask.name}")])
    rng = np.random.default_rng(GENERATED_SEED)
    for index, (height, width) in enumerate(((80, 96), (96, 128))):
        image, mask = make_large_image(rng, height, width, objects=5)
        examples.append([_save(image, f"generated_{index}x.png"), _save(mask, f"generated_{index}y.png")])
    return examples


def membrane_examples() -> list[list[str | None]]:
    """[image, truth] pairs of EM slices (validation slices with labels, test slices without)."""
    root = local_dataset(membrane.SOURCE)
    if root is None:
        return []
    examples = []
    for index in MEMBRANE_LABELLED_EXAMPLES:
        image, label = root / "train" / "image" / f"{index}.png", root / "train" / "label" / f"{index}.png"
        examples.append([_copy(image, f"membrane_{index}.png"), _copy(label, f"membrane_{index}_label.png")])
    for index in MEMBRANE_TEST_EXAMPLES:
        examples.append([_copy(root / "test" / f"{index}.png", f"membrane_test_{index}.png"), None])
    return examples


SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def photo_examples() -> list[str]:
    """Photos for the PSPNet tab: scikit-image's public-domain/CC0 samples (shipped inside the
    package, no download) and the demo photos in SEGDEMO_DATA_DIR/photos when present."""
    examples = []
    try:
        import skimage.data
    except ImportError:
        skimage = None
    if skimage is not None:
        for name in SKIMAGE_PHOTOS:
            target = example_folder() / f"skimage_{name}.png"
            if not target.exists():
                Image.fromarray(getattr(skimage.data, name)()).save(target)
            examples.append(str(target))
    local = settings.data_dir()
    if local is not None and (local / "photos").is_dir():
        examples += [_copy(path, f"photo_{path.name}") for path in sorted((local / "photos").glob("*.jpg"))]
    return examples


def augmentation_pairs(preset: str, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """`count` original (image, mask) pairs for the augmentation preview, float32 in [0, 1]."""
    if preset == "eliret":
        root = local_dataset(eliret.SOURCE)
        if root is not None:
            images, masks = eliret.load_split("train", root)
            chosen = np.linspace(0, len(images) - 1, count).astype(int)
            return images[chosen], masks[chosen]
        rng = np.random.default_rng(GENERATED_SEED)
        pairs = [make_large_image(rng, 32, 32, objects=1) for _ in range(count)]
        return np.stack([p[0] for p in pairs])[..., None], np.stack([p[1] for p in pairs])[..., None]
    if preset == "membrane":
        root = local_dataset(membrane.SOURCE)
        if root is None:
            raise ValueError("The membrane dataset is not on this machine (set SEGDEMO_DATA_DIR or train the model once to download it).")
        # Full resolution: the transform runs there, as in training (see segdemo.augment).
        return membrane.load_slices(list(membrane.TRAIN_SLICES)[:count], root, size=None)
    raise ValueError(f"Unknown dataset {preset!r} for the augmentation preview.")


def augmentation_preview(preset: str, seed: int, count: int = 4) -> np.ndarray:
    """Original pairs beside augmented copies (the lecture's figure 13), as one RGB figure."""
    from segdemo import render, runtime

    runtime.import_tensorflow()  # one thread at a time: the app's warm-up may be importing it too
    from segdemo import augment

    images, masks = augmentation_pairs(preset, count)
    # Membrane pairs are shown as the network sees them: transformed at 512×512, then reduced.
    output_size = registry.get("membrane_unet").input_size[0] if preset == "membrane" else None
    augmented_images, augmented_masks = augment.preview(images, masks, preset=preset, seed=seed, output_size=output_size)
    if output_size is not None:
        images, masks = (np.asarray(array) for array in augment.shrink_pairs(images, masks, output_size))
    cells = [
        [render.grey(images[i, ..., 0]), render.binary(masks[i, ..., 0]), render.grey(augmented_images[i, ..., 0]), render.binary(augmented_masks[i, ..., 0])]
        for i in range(len(images))
    ]
    return render.grid(cells, ["original image", "original mask", "augmented image", "augmented mask"])
