"""Crop positions, the heat-map grid, padding and aggregation of the crops view."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fakescope_cli.view import (
    PAD_VALUE,
    Box,
    aggregate,
    crop_boxes,
    cut,
    logit,
    map_boxes,
    region_box,
)


def test_one_crop_is_the_centre() -> None:
    assert crop_boxes(1000, 600, 128, 1) == [Box(432, 232, 128, 128)]  # centre, on the 8-px grid


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (3, [(432, 232), (0, 0), (872, 472)]),
        (5, [(432, 232), (0, 0), (872, 472), (872, 0), (0, 472)]),
    ],
)
def test_crops_spread_from_the_centre_to_opposite_corners(count: int, expected) -> None:
    boxes = crop_boxes(1000, 600, 128, count)
    assert [(b.x, b.y) for b in boxes] == expected
    assert all((b.w, b.h) == (128, 128) for b in boxes)


def test_nine_crops_are_the_three_by_three_lattice() -> None:
    boxes = crop_boxes(1000, 600, 128, 9)
    assert sorted((b.x, b.y) for b in boxes) == sorted((x, y) for x in (0, 432, 872) for y in (0, 232, 472))


def test_crops_stay_inside_and_are_never_resized() -> None:
    for width, height, count in [(129, 4000, 9), (4000, 3000, 17), (300, 200, 5)]:
        boxes = crop_boxes(width, height, 128, count)
        assert len(set(boxes)) == len(boxes)
        for b in boxes:
            assert (b.w, b.h) == (128, 128) and b.x % 8 == 0 and b.y % 8 == 0
            assert 0 <= b.x <= width - 128 and 0 <= b.y <= height - 128


def test_same_image_same_crops() -> None:
    assert crop_boxes(4032, 3024, 128, 5) == crop_boxes(4032, 3024, 128, 5)


def test_image_of_crop_size_gives_one_crop_however_many_are_asked() -> None:
    assert crop_boxes(128, 128, 128, 9) == [Box(0, 0, 128, 128)]


def test_small_image_is_judged_at_its_own_size() -> None:
    assert crop_boxes(100, 60, 128, 5) == [Box(0, 0, 100, 60)]
    pixels = np.full((60, 100, 3), 7, dtype=np.uint8)
    crop = cut(pixels, Box(0, 0, 100, 60), 128)
    assert crop.shape == (128, 128, 3)
    inner = crop[34:94, 14:114]
    assert (inner == 7).all()  # the pixels themselves, not an enlargement
    assert (crop[:34] == PAD_VALUE).all() and (crop[:, :14] == PAD_VALUE).all()


def test_cut_takes_the_exact_pixels() -> None:
    pixels = np.arange(300 * 200 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    crop = cut(pixels, Box(17, 23, 64, 64), 64)
    assert np.array_equal(crop, pixels[23:87, 17:81])


def test_map_grid_covers_the_image_and_is_capped() -> None:
    cols, rows, boxes = map_boxes(512, 384, 128)
    assert (cols, rows) == (4, 3)
    assert [(b.x, b.y) for b in boxes[:5]] == [(0, 0), (128, 0), (256, 0), (384, 0), (0, 128)]
    cols, rows, boxes = map_boxes(4000, 3000, 128)
    assert (cols, rows) == (12, 12) and len(boxes) == 144
    assert boxes[-1] == Box(4000 - 128, 3000 - 128, 128, 128)


def test_region_is_moved_inside_the_image() -> None:
    assert region_box(1000, 600, 128, 950, 10) == Box(872, 10, 128, 128)
    assert region_box(1000, 600, 128, 100, 200) == Box(100, 200, 128, 128)


def test_mean_logit_and_max() -> None:
    logits = [logit(0.9), logit(0.2), logit(0.5)]
    expected = 1 / (1 + math.exp(-sum(logits) / 3))
    assert aggregate(logits, "mean-logit") == pytest.approx(expected)
    assert aggregate(logits, "max") == pytest.approx(0.9)
    with pytest.raises(ValueError):
        aggregate(logits, "median")
