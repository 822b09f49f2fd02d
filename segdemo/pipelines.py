"""Pre- and postprocessing stages, one small object per model family.

Every model runs the same way (`segdemo.predict`):

    pixels ─ preprocess ─▶ network input ─ network ─▶ raw output ─ postprocess ─▶ dense maps ─ render

- `preprocess(pixels)` turns the canonical uint8 image (`segdemo.images`) into the network's
  input batch and remembers where the image lies in it (`Prepared`).
- the network (`segdemo.runtime`) maps that batch to its raw output: the grey map of a binary
  model, or the class scores of a PSPNet at its own resolution.
- `postprocess(raw, prepared)` brings the raw output back to the image's resolution (`Dense`):
  the foreground score per pixel, or the top class and its probability. Nothing here depends on
  the threshold or the overlay opacity, so `Dense` can be cached and re-rendered at will.

The facts each stage uses (colour mode, means and channel order, resizing and padding policy,
the size multiple, the network variant) are fields of the pipeline objects, which the registry
attaches to each model's spec; they are written nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import cv2
import numpy as np

from segdemo import images

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
"""Per-channel means (B, G, R) subtracted from 0–255 photos before the PSPNets (ImageNet's)."""

# PSPNetPipeline._upsampled_argmax: a class is proven unable to win where the upsampled bound is below
# the best candidate by more than this (float32 probabilities near 1 are 6e-8 apart).
_BOUND_MARGIN = 1e-6
# cv2.resize takes another code path for 1, 3 or 4 float channels; calls get at least this many.
_MIN_CHANNELS = 5


@dataclass(frozen=True)
class Prepared:
    """A network input and where the image lies in it.

    Attributes:
        batch: (1, H, W, C) float32, what the network is given.
        image_size: (height, width) of the image the caller passed.
        valid: (height, width) of the part of the network's output that covers the image (the
            rest is padding), in the output's own pixels.
    """

    batch: np.ndarray
    image_size: tuple[int, int]
    valid: tuple[int, int]


@dataclass(frozen=True)
class Dense:
    """A postprocessed output at the image's resolution, before any threshold.

    Attributes:
        scores: float32 H×W: the foreground score (binary models) or the top-class
            probability (multi-class models), in [0, 1].
        grey: float32 H×W: the network's own grey output (binary models; for the membrane
            models cells are white and membranes dark, as the lecture shows it); for
            multi-class models the same as `scores`.
        labels: int32 H×W top class (multi-class models); None for binary models, whose
            labels depend on the threshold.
    """

    scores: np.ndarray
    grey: np.ndarray
    labels: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        arrays = {id(array): array for array in (self.scores, self.grey, self.labels) if array is not None}
        return sum(array.nbytes for array in arrays.values())  # an array shared (grey is scores) counts once


def resize(array: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """Resizes H×W or H×W×C to (height, width), keeping a trailing channel axis of 1."""
    resized = cv2.resize(array, (size[1], size[0]), interpolation=interpolation)
    return resized[..., None] if array.ndim == 3 and resized.ndim == 2 else resized


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Pads the first two axes at the bottom and right, by reflection, up to multiples of `multiple`.

    Reflection rather than zeros keeps the padded border looking like the image, so a
    fully convolutional network sees no artificial edge there. Crop the result back with
    `output[:height, :width]`.
    """
    height, width = image.shape[:2]
    extra_rows = -height % multiple
    extra_cols = -width % multiple
    if not extra_rows and not extra_cols:
        return image
    pad = [(0, extra_rows), (0, extra_cols)] + [(0, 0)] * (image.ndim - 2)
    # np.pad's reflect needs more pixels than the pad; 'edge' handles tiny images.
    mode = "reflect" if height > extra_rows and width > extra_cols else "edge"
    return np.pad(image, pad, mode=mode)


def _grey_input(pixels: np.ndarray) -> np.ndarray:
    """The image as grey float32 in [0, 1] with a channel axis (the eliret and membrane networks' input)."""
    return (images.to_grey(pixels).astype(np.float32) / 255.0)[..., None]


@dataclass(frozen=True)
class BinaryPipeline:
    """Grey image in [0, 1] → one sigmoid (or linear) map → foreground score.

    Attributes:
        name: the pipeline's name, as `predict(..., pipeline=...)` takes it.
        input_size: (height, width) the network runs at; None for a fully convolutional network
            that runs at the image's own size.
        size_multiple: a fully convolutional input is padded (by reflection) to multiples of
            this: the network's total stride.
        max_side: a fully convolutional input is downscaled (area averaging) beyond this side,
            so a phone photo cannot stall the server; results are scaled back.
        linear_output: the last layer is linear (trained with MSE on 0/1 masks): clip to [0, 1].
        inverted: the network gives the *background* probability (the membrane models predict
            "cell interior = 1", as the lecture's); the foreground score is 1 - output.
    """

    name: str
    input_size: tuple[int, int] | None = None
    size_multiple: int = 1
    max_side: int = 1024
    linear_output: bool = False
    inverted: bool = False
    network_options: Mapping[str, object] = field(default_factory=dict)

    @property
    def fully_convolutional(self) -> bool:
        return self.input_size is None

    def preprocess(self, pixels: np.ndarray) -> Prepared:
        x = _grey_input(pixels)
        image_size = x.shape[:2]
        if self.input_size is not None:
            # As lecture program 8: resize to the network's input with INTER_AREA, run, resize back.
            return Prepared(resize(x, self.input_size, cv2.INTER_AREA)[None], image_size, self.input_size)
        scale = min(1.0, self.max_side / max(image_size))
        if scale < 1.0:
            x = resize(x, (max(1, round(image_size[0] * scale)), max(1, round(image_size[1] * scale))), cv2.INTER_AREA)
        return Prepared(pad_to_multiple(x, self.size_multiple)[None], image_size, x.shape[:2])

    def postprocess(self, raw: np.ndarray, prepared: Prepared) -> Dense:
        grey = raw[0, : prepared.valid[0], : prepared.valid[1], 0]
        if grey.shape != prepared.image_size:
            grey = resize(grey, prepared.image_size, cv2.INTER_LINEAR)
        grey = np.clip(grey, 0.0, 1.0).astype(np.float32)
        scores = (1.0 - grey) if self.inverted else grey
        return Dense(scores=scores, grey=grey)


@dataclass(frozen=True)
class PSPNetPipeline:
    """Colour photo → mean-subtracted 0–255 input → class probabilities → top class per pixel.

    Attributes:
        name: "original" or "keras_segmentation".
        input_size: side of the square network input (473 or 713).
        letterbox: True keeps the aspect ratio (long side scaled to the input, the rest padded
            with the mean, i.e. zero after subtraction), as the Caffe evaluation did; False
            stretches the photo to the square, as the lecture's library does.
        resize_uint8: resize the 8-bit image before converting it to float (the library's
            `cv2.resize` on the decoded image); False resizes the float image.
        rgb_order: feed the channels in RGB order after subtracting the BGR means (the library
            flips them); False feeds BGR, as Caffe did.
        upsample_probabilities: True upsamples class probabilities bilinearly to the image
            before the argmax; False takes the argmax at network resolution and enlarges the
            labels by nearest neighbour (the library).
        network_options: builder options of this pipeline's network variant (resize layers
            with aligned corners or half-pixel centres; which conv3_1 convolution strides).
        mean_bgr: the means subtracted from the B, G, R channels.
        max_probability_side: probabilities are upsampled to at most this side (labels are then
            enlarged by nearest neighbour), so 150 ADE20K classes fit in memory.
        channel_group: probabilities are upsampled this many channels at a time.
    """

    name: str
    input_size: int
    letterbox: bool
    resize_uint8: bool
    rgb_order: bool
    upsample_probabilities: bool
    network_options: Mapping[str, object] = field(default_factory=dict)
    mean_bgr: tuple[float, float, float] = CAFFE_MEAN_BGR
    max_probability_side: int = 1024
    channel_group: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "network_options", MappingProxyType(dict(self.network_options)))

    def preprocess(self, pixels: np.ndarray) -> Prepared:
        rgb = images.to_rgb(pixels)
        height, width = rgb.shape[:2]
        size = self.input_size
        inner = (size, size)
        if self.letterbox:
            scale = size / max(height, width)
            inner = (max(1, round(height * scale)), max(1, round(width * scale)))
        if self.resize_uint8:
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            resized = cv2.resize(bgr, (inner[1], inner[0]), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        else:
            # The float resize one channel at a time, in BGR order: the same values as resizing the
            # three-channel float image (cv2 resizes channels independently; tests/test_pipelines.py
            # checks it), with one float channel in memory instead of a BGR copy and three (48 MB
            # instead of 181 MB for a 12 MP photo), and twice as fast.
            resized = np.stack(
                [
                    cv2.resize(
                        np.ascontiguousarray(rgb[..., channel]).astype(np.float32),
                        (inner[1], inner[0]),
                        interpolation=cv2.INTER_LINEAR,
                    )
                    for channel in (2, 1, 0)
                ],
                axis=-1,
            )
        network_input = np.zeros((size, size, 3), np.float32)
        network_input[: inner[0], : inner[1]] = resized - np.float32(self.mean_bgr)
        if self.rgb_order:
            network_input = network_input[..., ::-1]
        return Prepared(np.ascontiguousarray(network_input)[None], (height, width), inner)

    def postprocess(self, raw: np.ndarray, prepared: Prepared, resize_every_class: bool = False) -> Dense:
        """The top class and its probability at every pixel of the image.

        Args:
            raw: the network's (1, H, W, classes) probabilities.
            prepared: what `preprocess` gave for the image.
            resize_every_class: resize all classes' probabilities before the argmax, the slow way
                that gives the same result (for bench/postprocess.py; the default resizes only the
                classes that can win).
        """
        probabilities = raw[0, : prepared.valid[0], : prepared.valid[1]]
        height, width = prepared.image_size
        if not self.upsample_probabilities:
            labels = np.argmax(probabilities, axis=-1).astype(np.int32)
            scores = np.max(probabilities, axis=-1).astype(np.float32)
            del raw, probabilities  # as below
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
            scores = cv2.resize(scores, (width, height), interpolation=cv2.INTER_NEAREST)
            return Dense(scores=scores, grey=scores, labels=labels.astype(np.int32))
        work_scale = min(1.0, self.max_probability_side / max(height, width))
        work_size = (max(1, round(height * work_scale)), max(1, round(width * work_scale)))
        upsampled_argmax = self._upsampled_argmax_all if resize_every_class else self._upsampled_argmax
        labels, scores = upsampled_argmax(probabilities, work_size)
        # CPython (3.11 on) moves a call's arguments into the callee's frame in direct Python-to-Python
        # calls: for `predict`'s `postprocess(tail(raw), ...)` these are the last references to the
        # full-size probabilities (134 MB for ADE20K), freed here before the maps are enlarged.
        del raw, probabilities
        if work_size != (height, width):
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
            scores = cv2.resize(scores, (width, height), interpolation=cv2.INTER_LINEAR)
        # No copy where the arrays have their type already (a 12 MP photo's copies cost 0.1 s); grey
        # is the scores array itself (a copy was 48 MB of the output cache per 12 MP photo).
        scores = scores.astype(np.float32, copy=False)
        return Dense(scores=scores, grey=scores, labels=labels.astype(np.int32, copy=False))

    def _upsampled_argmax(self, probabilities: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The top class and its probability after bilinear resizing of the class probabilities to `size`.

        The same result as resizing every class (`_upsampled_argmax_all`), bit for bit, at a fraction
        of the cost (tests/test_postprocess.py checks it against the full computation).

        Why this is exact: cv2's bilinear resizing gives each output pixel a weighted sum of (at most)
        a 2×2 block of input pixels with non-negative weights, computed with the same multiplications
        and additions for every channel (`_resize_channels` keeps every call on the code path that the
        full computation takes). Rounding is monotone, so a class whose probability is at most R at
        each input pixel of the block comes out at most as large as the resized R.

        1. Where one class A is the top class at every input pixel near an output pixel, A's resized
           probability there is exactly the resized top probability, and every other class comes out
           at most at the resized second probability. Resizing those two maps decides, without any
           class channel, every output pixel where the first beats the second (inside the regions).
        2. The other output pixels (along the borders between regions) get the classes that are top
           near them as candidates, resized, and a bound channel (the largest probability of the
           other classes); where the best candidate beats the bound, no other class can win. Where
           the bound comes close, the classes that reach it near those pixels join the candidates and
           the check runs again; in the worst case every class is resized, which is the full computation.
        Ties go to the lower class index in both computations: a class that ties never passes a check.
        """
        count = probabilities.shape[-1]
        if count <= self.channel_group or (count % self.channel_group or self.channel_group) < _MIN_CHANNELS:
            # One cv2 call resizes every class of a 19- or 21-class network, and the bookkeeping below costs
            # about what it saves there (bench/postprocess.py). And where the full computation's last group
            # takes cv2's other code path, only that computation gives its values.
            return self._upsampled_argmax_all(probabilities, size)
        height, width = probabilities.shape[:2]
        top, first, second = _top_two(probabilities)
        resized = self._resize_stack(np.stack([first, second], axis=-1), size)
        resized_first, resized_second = resized[..., 0], resized[..., 1]
        rows, cols = _source_rows(height, size[0]), _source_rows(width, size[1])
        labels = top[np.ix_(rows, cols)].astype(np.int32)
        best = np.ascontiguousarray(resized_first)
        sure = _same_top_nearby(top)[np.ix_(rows, cols)] & (resized_first - resized_second > _BOUND_MARGIN)
        unsure = np.nonzero(~sure)
        if unsure[0].size * 4 > sure.size * 3:  # a noisy map (random weights, say): resizing every class costs less
            return self._upsampled_argmax_all(probabilities, size)
        if unsure[0].size:
            labels[unsure], best[unsure] = self._border_argmax(probabilities, top, size, rows[unsure[0]], cols[unsure[1]], unsure)
        return labels, best

    def _border_argmax(
        self,
        probabilities: np.ndarray,
        top: np.ndarray,
        size: tuple[int, int],
        source_rows: np.ndarray,
        source_cols: np.ndarray,
        pixels: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Step 2 of `_upsampled_argmax`: the top class and probability at the output `pixels` (row and
        column arrays), whose input neighbourhoods start at `source_rows`, `source_cols`."""
        count = probabilities.shape[-1]
        near = _neighbourhood_mask(probabilities.shape[:2], source_rows, source_cols)
        candidates = np.zeros(count, bool)
        candidates[np.unique(top[near])] = True
        near_probabilities = probabilities[near]
        # Each class's resized probability at `pixels`, filled in as classes become candidates.
        # (np.take, not fancy indexing: several times faster along the last axis.)
        values_at = np.empty((len(pixels[0]), count), np.float32)
        resized_classes = np.zeros(count, bool)
        while True:
            classes = np.flatnonzero(candidates)
            new = np.flatnonzero(candidates & ~resized_classes)
            # A group of classes at a time, each written into its columns: the new classes' maps
            # and their values at `pixels` are never all held at once (490 → 283 MiB for a synthetic map
            # where 127 of ADE20K's classes meet).
            for group, values in self._resized_groups(probabilities, size, pixels, new):
                values_at[:, group] = values
            resized_classes[new] = True
            values = np.take(values_at, classes, axis=-1)
            order = np.argmax(values, axis=-1)
            best = values[np.arange(len(order)), order]
            if len(classes) == count:  # every class is a candidate: nothing left to bound
                return classes[order].astype(np.int32), best
            # The bound matters only at the pixels' neighbours; elsewhere it is left at zero.
            bound = np.zeros(probabilities.shape[:2], np.float32)
            bound[near] = np.take(near_probabilities, np.flatnonzero(~candidates), axis=-1).max(axis=-1)
            doubt = self._resize_stack(bound[..., None], size, pixels)[:, 0] >= best - _BOUND_MARGIN
            if not doubt.any():
                return classes[order].astype(np.int32), best
            # A class can reach `best` only where one of its neighbouring probabilities does.
            lowest = np.full(probabilities.shape[:2], np.inf, np.float32)
            for row_offset, col_offset in _NEIGHBOURHOOD:
                place = (
                    _clipped(source_rows[doubt] + row_offset, lowest.shape[0]),
                    _clipped(source_cols[doubt] + col_offset, lowest.shape[1]),
                )
                np.minimum.at(lowest, place, best[doubt] - 2 * _BOUND_MARGIN)
            reached = np.isfinite(lowest)
            joining = (probabilities[reached] >= lowest[reached][:, None]).any(axis=0) & ~candidates
            # Nothing found to add can only come from rounding beyond the margin: then every class joins.
            candidates |= joining if joining.any() else True

    def _resize_stack(
        self, stack: np.ndarray, size: tuple[int, int], pixels: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """H×W×K channels bilinearly resized to `size` (all of it, or only at the output `pixels`:
        then N×K), in calls of `channel_group` channels (`_resized_groups`)."""
        parts = [values for _, values in self._resized_groups(stack, size, pixels)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def _resized_groups(
        self,
        stack: np.ndarray,
        size: tuple[int, int],
        pixels: tuple[np.ndarray, np.ndarray] | None = None,
        channels: np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The `channels` of an H×W×K stack (indices along its last axis; default: all of them)
        bilinearly resized to `size`, one call of at most `channel_group` channels at a time: yields
        (the group's channel indices, its values: size×G, or N×G at the output `pixels` only).

        cv2 resizes 1, 3 or 4 float channels on other code paths than other counts (differences up
        to 4e-6 measured), so each call gets at least `_MIN_CHANNELS`: short groups are padded by
        repeating their last channel. The full computation's groups (`channel_group` channels, and
        the remainder of a 19-, 21- or 150-class network) take the common path, and so do these.
        """
        channels = np.arange(stack.shape[-1]) if channels is None else channels
        for start in range(0, len(channels), self.channel_group):
            group = channels[start : start + self.channel_group]
            kept = len(group)
            padded = group if kept >= _MIN_CHANNELS else np.concatenate([group, np.repeat(group[-1:], _MIN_CHANNELS - kept)])
            resized = resize(np.take(stack, padded, axis=-1), size, cv2.INTER_LINEAR)
            values = (resized if pixels is None else resized[pixels])[..., :kept]
            del resized  # not held by this generator while the caller uses `values` and the next group is made
            yield group, values

    def _upsampled_argmax_all(self, probabilities: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Bilinear upsampling of every class probability, then argmax, a group of channels at a time."""
        best = np.full(size, -1.0, np.float32)
        labels = np.zeros(size, np.int32)
        for start in range(0, probabilities.shape[-1], self.channel_group):
            group = np.ascontiguousarray(probabilities[..., start : start + self.channel_group])
            resized = resize(group, size, cv2.INTER_LINEAR)
            if resized.ndim == 2:
                resized = resized[..., None]
            group_best = resized.max(axis=-1)
            better = group_best > best
            labels[better] = start + resized.argmax(axis=-1)[better]
            best[better] = group_best[better]
        return labels, best


def _top_two(probabilities: np.ndarray, rows_per_strip: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top class, its probability and the largest probability of the other classes at each pixel
    of an H×W×C map, a strip of rows at a time: the whole map is never copied (the copy was 100 MB
    for ADE20K's 150 classes on a landscape photo, at the app's peak memory)."""
    height, width = probabilities.shape[:2]
    top = np.empty((height, width), np.intp)
    first = np.empty((height, width), probabilities.dtype)
    second = np.empty((height, width), probabilities.dtype)
    for start in range(0, height, rows_per_strip):
        strip = probabilities[start : start + rows_per_strip]
        strip_top = np.argmax(strip, axis=-1)
        top[start : start + rows_per_strip] = strip_top
        first[start : start + rows_per_strip] = np.take_along_axis(strip, strip_top[..., None], axis=-1)[..., 0]
        others = strip.copy()
        np.put_along_axis(others, strip_top[..., None], -np.inf, axis=-1)
        second[start : start + rows_per_strip] = others.max(axis=-1)
    return top, first, second


# The input pixels that cv2's bilinear resizing may read for an output pixel: the 2×2 block at the
# floor of its source coordinate, widened by one pixel on each side against rounding in that coordinate.
_NEIGHBOURHOOD = tuple((row, col) for row in range(-1, 3) for col in range(-1, 3))


def _clipped(indices: np.ndarray, length: int) -> np.ndarray:
    return np.clip(indices, 0, length - 1)


def _source_rows(length: int, resized_length: int) -> np.ndarray:
    """For each output row (or column) of a bilinear resize from `length` to `resized_length`, the
    first input row it reads (cv2's source coordinate (i + 0.5) * scale - 0.5, floored, clipped)."""
    scale = length / resized_length
    return _clipped(np.floor((np.arange(resized_length) + 0.5) * scale - 0.5).astype(np.int64), length)


def _same_top_nearby(top: np.ndarray) -> np.ndarray:
    """True where every input pixel of the `_NEIGHBOURHOOD` starting there (clipped at the edges) has
    the same top class."""
    height, width = top.shape
    padded = np.pad(top, ((1, 2), (1, 2)), mode="edge")  # edge padding = clipped indices
    same = np.ones(top.shape, bool)
    for row, col in _NEIGHBOURHOOD:
        same &= padded[1 + row : 1 + row + height, 1 + col : 1 + col + width] == top
    return same


def _neighbourhood_mask(shape: tuple[int, int], source_rows: np.ndarray, source_cols: np.ndarray) -> np.ndarray:
    """The input pixels of the `_NEIGHBOURHOOD`s starting at (`source_rows`, `source_cols`)."""
    starts = np.zeros(shape, np.uint8)
    starts[source_rows, source_cols] = 1
    # Pixel (r, c) is in the neighbourhood starting at (r0, c0) when r0 - 1 <= r <= r0 + 2 (so for the
    # starts r - 2 ... r + 1): a 4×4 dilation anchored at (2, 2).
    return cv2.dilate(starts, np.ones((4, 4), np.uint8), anchor=(2, 2)).astype(bool)


def pspnet_pipelines(layers: int, input_size: int) -> tuple[PSPNetPipeline, PSPNetPipeline]:
    """The two ways of running a published PSPNet.

    - "original": what the weights were trained and evaluated with in Caffe: BGR input minus
      the means, aspect ratio kept, resize layers with aligned corners, stride on
      `conv3_1_3x3` in the 101-layer networks, probabilities upsampled before the argmax.
    - "keras_segmentation": what the lecture's library (keras-segmentation 0.3.0) does: the
      8-bit photo stretched to the square with `cv2.resize`, then the means subtracted and the
      channels flipped to RGB, half-pixel resize layers, stride on `conv3_1_1x1_reduce`,
      argmax at network resolution, labels enlarged by nearest neighbour.

    Args:
        layers: 50 or 101 (only the 101-layer Caffe networks stride on `conv3_1_3x3`).
        input_size: side of the square input.
    """
    original = PSPNetPipeline(
        name="original",
        input_size=input_size,
        letterbox=True,
        resize_uint8=False,
        rgb_order=False,
        upsample_probabilities=True,
        network_options={"align_corners": True, "stride_on": "3x3" if layers == 101 else "1x1_reduce"},
    )
    library = PSPNetPipeline(
        name="keras_segmentation",
        input_size=input_size,
        letterbox=False,
        resize_uint8=True,
        rgb_order=True,
        upsample_probabilities=False,
        network_options={"align_corners": False, "stride_on": "1x1_reduce"},
    )
    return original, library
