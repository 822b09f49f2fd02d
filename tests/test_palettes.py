"""Class names and colours: derived where a rule exists, otherwise checked for what a legend needs."""

from __future__ import annotations

import pytest

from segdemo import palettes, registry

PALETTES = {
    "pspnet_voc": (palettes.VOC_CLASSES, palettes.VOC_PALETTE),
    "pspnet_ade20k": (palettes.ADE20K_CLASSES, palettes.ADE20K_PALETTE),
    "pspnet_cityscapes": (palettes.CITYSCAPES_CLASSES, palettes.CITYSCAPES_PALETTE),
}


def voc_devkit_colormap(count: int) -> list[tuple[int, int, int]]:
    """The VOC devkit's `labelcolormap`: label k's bits, three at a time, fill R, G and B from the top bit down."""
    colours = []
    for label in range(count):
        red = green = blue = 0
        bits = label
        for shift in range(7, -1, -1):
            red |= (bits & 1) << shift
            green |= ((bits >> 1) & 1) << shift
            blue |= ((bits >> 2) & 1) << shift
            bits >>= 3
        colours.append((red, green, blue))
    return colours


def test_voc_colours_follow_the_devkit_rule():
    assert list(palettes.VOC_PALETTE) == voc_devkit_colormap(len(palettes.VOC_CLASSES))


@pytest.mark.parametrize("key", list(PALETTES))
def test_each_pspnet_has_one_distinct_colour_and_name_per_output_channel(key):
    classes, palette = PALETTES[key]
    spec = registry.get(key)
    assert spec.classes == classes and spec.palette == palette
    assert len(classes) == len(palette) == spec.arch_kwargs["classes"]
    assert len(set(classes)) == len(classes) and all(name and name == name.strip() for name in classes)
    # A legend must tell the classes apart: no two share a colour, except where the benchmark's own
    # palette does (ADE20K's color150 gives road and skyscraper both (140, 140, 140)).
    shared = {colour for colour in palette if palette.count(colour) > 1}
    assert {classes[index] for index, colour in enumerate(palette) if colour in shared} <= {"road", "skyscraper"}
    assert all(len(colour) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in colour) for colour in palette)
