"""Where a crop-view model looks: crop boxes at native resolution, and how crop scores combine.

A model whose profile says ``view = "crops"`` never sees the image resized. The scan cuts
``crops`` squares of ``crop_size`` pixels out of the decoded image at fixed positions: the centre
first, then, one at a time, the point of a lattice over the image farthest from those already
taken (ties broken by the larger sum of distances, then in reading order). So 3 crops are the
centre and two opposite corners, 5 the centre and the four corners, 9 a 3 x 3 lattice; the same
image always gets the same crops.
Every crop's corner is on the 8-pixel grid (rounded down): a JPEG's blocks then line up with the
crop the way they do in training, where each crop is JPEG-encoded after it is cut. An image
smaller than a crop is never enlarged: it is judged at its own size, padded with
mid-grey to the crop's shape, and the result says so.

``--map`` judges a dense grid instead: crops side by side (at most ``MAP_MAX_SIDE`` a row or
column, spread evenly when the image is larger than that), the grid a heat map is drawn from.
Pure functions only: the engine, the training path and the reports share them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

VIEW_WHOLE = "whole"
VIEW_CROPS = "crops"
VIEWS = (VIEW_WHOLE, VIEW_CROPS)
AGGREGATE_MEAN_LOGIT = "mean-logit"
AGGREGATE_MAX = "max"
AGGREGATES = (AGGREGATE_MEAN_LOGIT, AGGREGATE_MAX)
PAD_VALUE = 128  # mid-grey around an image smaller than a crop
MAP_MAX_SIDE = 12  # heat-map cells per row or column at most
MAX_CROPS = 64
GRID = 8  # crop corners sit on the 8-px JPEG block grid (see crop_boxes)


@dataclass(frozen=True)
class Box:
    """A crop's place in the image, in pixels (left, top, width, height)."""

    x: int
    y: int
    w: int
    h: int

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


def _snap(start: int) -> int:
    return start - start % GRID


def _axis(length: int, size: int, count: int) -> list[int]:
    """``count`` evenly spread starts of a window of ``size`` along ``length``, on the block grid
    (deduplicated)."""
    free = max(length - size, 0)
    if count <= 1 or free == 0:
        return [_snap(free // 2)]
    return sorted({_snap(round(i * free / (count - 1))) for i in range(count)})


def crop_boxes(width: int, height: int, crop_size: int, count: int) -> list[Box]:
    """The ``count`` crop boxes a scan judges (fewer when the image holds fewer distinct ones).

    The order is chosen on the exact lattice (the centre, then farthest points), and only then are
    the corners moved onto the block grid, so rounding never changes which crops are taken."""
    if crop_size < 1 or count < 1:
        raise ValueError("crop_size and count must be positive")
    w, h = min(width, crop_size), min(height, crop_size)
    side = max(3, math.ceil(math.sqrt(count)))
    free_x, free_y = max(width - w, 0), max(height - h, 0)
    lattice = [(i * free_x / (side - 1), j * free_y / (side - 1)) for j in range(side) for i in range(side)]
    chosen = [(free_x / 2, free_y / 2)]
    remaining = [p for p in lattice if p != chosen[0]]
    boxes: list[Box] = []

    def add(point: tuple[float, float]) -> None:
        box = Box(_snap(round(point[0])), _snap(round(point[1])), w, h)
        if box not in boxes:
            boxes.append(box)

    add(chosen[0])
    while remaining and len(boxes) < count:

        def spread(point: tuple[float, float]) -> tuple[float, float]:
            distances = [math.hypot(point[0] - c[0], point[1] - c[1]) for c in chosen]
            return round(min(distances), 6), round(sum(distances), 6)

        best = max(range(len(remaining)), key=lambda i: (*spread(remaining[i]), -i))
        chosen.append(remaining.pop(best))
        add(chosen[-1])
    return boxes


def map_boxes(
    width: int, height: int, crop_size: int, max_side: int = MAP_MAX_SIDE
) -> tuple[int, int, list[Box]]:
    """(columns, rows, boxes in reading order) of the heat-map grid."""
    w, h = min(width, crop_size), min(height, crop_size)
    cols = min(max(1, math.ceil(width / crop_size)), max_side)
    rows = min(max(1, math.ceil(height / crop_size)), max_side)
    xs, ys = _axis(width, w, cols), _axis(height, h, rows)
    return len(xs), len(ys), [Box(x, y, w, h) for y in ys for x in xs]


def region_box(width: int, height: int, crop_size: int, x: int, y: int) -> Box:
    """The crop whose top-left corner is (x, y), moved inside the image where it would overhang."""
    w, h = min(width, crop_size), min(height, crop_size)
    return Box(min(max(x, 0), width - w), min(max(y, 0), height - h), w, h)


def cut(pixels: np.ndarray, box: Box, crop_size: int) -> np.ndarray:
    """The box's pixels (H x W x 3 uint8), padded with mid-grey to ``crop_size`` when smaller."""
    import numpy as np

    part = pixels[box.y : box.y + box.h, box.x : box.x + box.w]
    if box.w == crop_size and box.h == crop_size:
        return np.ascontiguousarray(part)
    out = np.full((crop_size, crop_size, 3), PAD_VALUE, dtype=np.uint8)
    top, left = (crop_size - box.h) // 2, (crop_size - box.w) // 2
    out[top : top + box.h, left : left + box.w] = part
    return out


def aggregate(logits: list[float], how: str, scale: float = 1.0, offset: float = 0.0) -> float:
    """The image's p(fake) from its crops' logits (log p_fake - log p_real), after the profile's
    calibration ``scale * x + offset`` of the aggregated logit (a monotone map: the ranking of
    images is the same)."""
    if not logits:
        raise ValueError("no crop scores to aggregate")
    if how == AGGREGATE_MEAN_LOGIT:
        value = sum(logits) / len(logits)
    elif how == AGGREGATE_MAX:
        value = max(logits)
    else:
        raise ValueError(f"unknown aggregate {how!r}; known: {', '.join(AGGREGATES)}")
    return sigmoid(scale * value + offset)


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logit(p: float, eps: float = 1e-12) -> float:
    p = min(max(p, eps), 1.0 - eps)
    return math.log(p) - math.log1p(-p)
