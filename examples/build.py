"""Rebuilds the shipped examples (this folder) from the course's data, and writes index.json.

    python examples/build.py --data-dir ../shared/data

eliret and membrane files are copied byte for byte (their sha256 stays the one listed in
segdemo/datasets/*.sha256.json); photos are downscaled to at most PHOTO_LONG_SIDE pixels on the
long side and re-encoded as JPEG (quality PHOTO_QUALITY, metadata dropped) to keep the folder
small: the PSPNets see them at 473 or 713 pixels anyway. index.json is what segdemo.samples
reads; SOURCES.md is written by hand and must name every file (tests/test_samples.py checks).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import NamedTuple

from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTO_LONG_SIDE = 1024
PHOTO_QUALITY = 85

ELIRET = "eliret"
MEMBRANE = "membrane"

# Group titles in English and Brazilian Portuguese (the app shows one of them).
GROUPS = {
    "lecture_test": {
        "en": "eliret test images of the lecture's figure 8 (076, 078, 176, 178) and program 5 (077)",
        "pt": "imagens de teste eliret da figura 8 da apostila (076, 078, 176, 178) e do programa 5 (077)",
    },
    "large": {
        "en": "larger images maior1 and maior2 (four objects each, off-centre)",
        "pt": "imagens maiores maior1 e maior2 (quatro objetos cada, fora do centro)",
    },
    "eliret_train": {
        "en": "eliret training pairs (the augmentation preview without the dataset)",
        "pt": "pares de treino eliret (a prévia do aumento de dados sem o conjunto de dados)",
    },
    "membrane_labelled": {
        "en": "ISBI-2012 validation slices (20–24) with their labels",
        "pt": "fatias de validação ISBI-2012 (20–24) com seus rótulos",
    },
    "membrane_train": {
        "en": "ISBI-2012 training slices 0–3 with labels (the augmentation preview without the dataset)",
        "pt": "fatias de treino ISBI-2012 0–3 com rótulos (a prévia do aumento de dados sem o conjunto de dados)",
    },
    "membrane_unlabelled": {
        "en": "ISBI-2012 test slices (no labels)",
        "pt": "fatias de teste ISBI-2012 (sem rótulos)",
    },
    "photos": {
        "en": "photos for the PSPNets (Pascal VOC 2012, ADE20K, Cityscapes)",
        "pt": "fotos para as PSPNets (Pascal VOC 2012, ADE20K, Cityscapes)",
    },
}

ELIRET_NOTES = {
    "076": ("figure 8", "figura 8"),
    "077": ("program 5", "programa 5"),
    "078": ("figure 8", "figura 8"),
    "176": ("figure 8", "figura 8"),
    "178": ("figure 8", "figura 8"),
}
# The pairs the augmentation preview takes from treino.csv (rows 0, 33, 66 and 99: segdemo.samples).
ELIRET_PREVIEW_PAIRS = ("000", "116", "033", "149")
MEMBRANE_VALIDATION = (20, 22, 24)
MEMBRANE_PREVIEW = (0, 1, 2, 3)
MEMBRANE_TEST = (0, 7, 15)

PEXELS_CC0 = "CC0"
PIXABAY_CC0 = "CC0"
UDACITY_MIT = "MIT"


class PhotoSource(NamedTuple):
    """A photo of the course's photos/ folder and what index.json says about it (SOURCES.md gives licences in full)."""

    file: str
    model: str  # the PSPNet it suits (registry key)
    text_en: str
    text_pt: str
    credit: str
    licence: str  # short name
    origin: str  # repository@commit path


PHOTOS = (
    PhotoSource(
        file="voc_dog_person.jpg",
        model="pspnet_voc",
        text_en="woman playing with a large dog on grass",
        text_pt="mulher brincando com um cachorro grande na grama",
        credit="Pexels, pexels.com/photo/animal-big-blur-breed-532310",
        licence=PEXELS_CC0,
        origin="IBM/MAX-Object-Detector@7302bae7 samples/dog-human.jpg",
    ),
    PhotoSource(
        file="voc_horse_rider.jpg",
        model="pspnet_voc",
        text_en="jockey on a galloping horse",
        text_pt="jóquei em um cavalo a galope",
        credit="Pexels, pexels.com/photo/action-athlete-competition-course-158976",
        licence=PEXELS_CC0,
        origin="IBM/MAX-Object-Detector@7302bae7 samples/jockey.jpg",
    ),
    PhotoSource(
        file="voc_cow.jpg",
        model="pspnet_voc",
        text_en="cow in a misty field",
        text_pt="vaca em um campo com neblina",
        credit="Pixabay",
        licence=PIXABAY_CC0,
        origin="IBM/MAX-Image-Segmenter-Web-App@21b9def7 assets/cow.jpg",
    ),
    PhotoSource(
        file="ade_terrace.jpg",
        model="pspnet_ade20k",
        text_en="outdoor terrace: table, wicker chairs, stone wall, plant",
        text_pt="terraço ao ar livre: mesa, cadeiras de vime, muro de pedra, planta",
        credit="Pixabay",
        licence=PIXABAY_CC0,
        origin="IBM/MAX-Image-Segmenter-Web-App@21b9def7 assets/terrace.jpg",
    ),
    PhotoSource(
        file="ade_bakery.jpg",
        model="pspnet_ade20k",
        text_en="bakery: counter, pastries, shelves",
        text_pt="padaria: balcão, doces, prateleiras",
        credit="Pexels, pexels.com/photo/bacon-rosemart-192933",
        licence=PEXELS_CC0,
        origin="IBM/MAX-Scene-Classifier@7c5d12a0 samples/bakery.jpg",
    ),
    PhotoSource(
        file="ade_ruins.jpg",
        model="pspnet_ade20k",
        text_en="Odeon of Herodes Atticus, Athens: ruins, trees, hills, sky",
        text_pt="Odeão de Herodes Ático, Atenas: ruínas, árvores, morros, céu",
        credit="Pexels, pexels.com/photo/odeon-of-herodes-atticus-772686",
        licence=PEXELS_CC0,
        origin="IBM/MAX-Scene-Classifier@7c5d12a0 samples/ruins.jpg",
    ),
    PhotoSource(
        file="city_nyc_street.jpg",
        model="pspnet_cityscapes",
        text_en="Manhattan avenue: road, crosswalk, taxis, bus, pedestrians, traffic lights",
        text_pt="avenida em Manhattan: rua, faixa de pedestres, táxis, ônibus, pedestres, semáforos",
        credit="Nout Gons / Pexels, pexels.com/photo/city-street-photo-378570",
        licence="Pexels licence (CC0 when published)",
        origin="vluz/SegmentAllTheThings@fb920611 images/complex.jpg",
    ),
    PhotoSource(
        file="city_highway_test1.jpg",
        model="pspnet_cityscapes",
        text_en="highway seen from a car: road, lane marks, cars, guard rail, trees",
        text_pt="rodovia vista de dentro de um carro: pista, faixas, carros, guard-rail, árvores",
        credit="Udacity, Inc.",
        licence=UDACITY_MIT,
        origin="udacity/CarND-Advanced-Lane-Lines@91b08035 test_images/test1.jpg",
    ),
    PhotoSource(
        file="city_highway_test6.jpg",
        model="pspnet_cityscapes",
        text_en="highway seen from a car, with cars and trees",
        text_pt="rodovia vista de dentro de um carro, com carros e árvores",
        credit="Udacity, Inc.",
        licence=UDACITY_MIT,
        origin="udacity/CarND-Advanced-Lane-Lines@91b08035 test_images/test6.jpg",
    ),
)


def copy(source: Path, target: str) -> str:
    destination = HERE / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return target


def reencode(source: Path, target: str) -> str:
    destination = HERE / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as photo:
        photo = photo.convert("RGB")
        photo.thumbnail((PHOTO_LONG_SIDE, PHOTO_LONG_SIDE), Image.Resampling.LANCZOS)  # never enlarges
        photo.save(destination, "JPEG", quality=PHOTO_QUALITY, optimize=True, progressive=True)
    return target


def build(data_dir: Path) -> dict:
    eliret, membrane, photos = data_dir / "eliret", data_dir / "membrane", data_dir / "photos"
    entries = []

    def pair(stem: str) -> tuple[str, str]:
        return copy(eliret / f"{stem}x.png", f"eliret/{stem}x.png"), copy(eliret / f"{stem}y.png", f"eliret/{stem}y.png")

    for stem, (note_en, note_pt) in ELIRET_NOTES.items():
        image, mask = pair(stem)
        entries.append(
            {
                "group": "lecture_test",
                "name": stem,
                "image": image,
                "mask": mask,
                "source": ELIRET,
                "note": {"en": note_en, "pt": note_pt},
            }
        )
    for stem in ("maior1", "maior2"):
        image, mask = pair(stem)
        entries.append({"group": "large", "name": stem, "image": image, "mask": mask, "source": ELIRET})
    for stem in ELIRET_PREVIEW_PAIRS:
        image, mask = pair(stem)
        entries.append({"group": "eliret_train", "name": stem, "image": image, "mask": mask, "source": ELIRET})

    for group, indices in (("membrane_labelled", MEMBRANE_VALIDATION), ("membrane_train", MEMBRANE_PREVIEW)):
        for index in indices:
            image = copy(membrane / "train" / "image" / f"{index}.png", f"membrane/slice_{index:02d}.png")
            mask = copy(membrane / "train" / "label" / f"{index}.png", f"membrane/slice_{index:02d}_label.png")
            entries.append(
                {
                    "group": group,
                    "name": f"slice {index}",
                    "image": image,
                    "mask": mask,
                    "source": MEMBRANE,
                    "dataset_path": f"train/image/{index}.png",
                    "dataset_mask_path": f"train/label/{index}.png",
                }
            )
    for index in MEMBRANE_TEST:
        image = copy(membrane / "test" / f"{index}.png", f"membrane/test_{index:02d}.png")
        entries.append(
            {
                "group": "membrane_unlabelled",
                "name": f"test {index}",
                "image": image,
                "mask": None,
                "source": MEMBRANE,
                "dataset_path": f"test/{index}.png",
            }
        )

    for name, model, text_en, text_pt, credit, licence, origin in PHOTOS:
        image = reencode(photos / name, f"photos/{name}")
        entries.append(
            {
                "group": "photos",
                "name": Path(name).stem,
                "image": image,
                "mask": None,
                "source": "photo",
                "model": model,
                "description": {"en": text_en, "pt": text_pt},
                "credit": credit,
                "licence": licence,
                "origin": origin,
            }
        )

    for entry in entries:
        if entry["source"] == ELIRET:
            entry["dataset_path"] = Path(entry["image"]).name
            entry["dataset_mask_path"] = Path(entry["mask"]).name
    return {
        "about": "Examples shipped with segdemo; see SOURCES.md for sources, licences and credits. Written by examples/build.py.",
        "masks": {
            ELIRET: "255 = object (ellipse or rectangle), 0 = background",
            MEMBRANE: "255 = cell interior, 0 = membrane",
        },
        "groups": GROUPS,
        "examples": entries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the folder holding eliret/, membrane/ and photos/")
    arguments = parser.parse_args()
    index = build(arguments.data_dir)
    (HERE / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(path.stat().st_size for path in HERE.rglob("*") if path.is_file())
    print(f"{len(index['examples'])} examples, folder {total / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
