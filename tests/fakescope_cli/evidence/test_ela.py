"""ELA is computed in strips to keep memory small; the strips must add up to one whole re-save."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageChops

from fakescope_cli.evidence import ela


def _whole_image_difference(rgb: Image.Image) -> np.ndarray:
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=ela.ELA_QUALITY)
    resaved = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    red, green, blue = ImageChops.difference(rgb, resaved).split()
    return np.asarray(ImageChops.lighter(red, ImageChops.lighter(green, blue)))


def _photo_like(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((width, height))
    noise = rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(coarse) + noise, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(("width", "height"), [(301, 700), (640, 513), (96, 40), (1000, 256)])
def test_strips_give_exactly_the_whole_image_difference(
    width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ela, "STRIP_PIXELS", 0)  # strips of STRIP_ROWS: several in each image
    rgb = _photo_like(width, height, seed=width + height)
    striped = ela.difference_map(rgb)
    assert striped.shape == (height, width)
    assert np.array_equal(striped, _whole_image_difference(rgb))
    assert striped.max() > 0  # a real re-save error, not an empty map


def test_without_margins_the_strip_edges_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The margins are what makes the equality hold (so the test above can fail)."""
    rgb = _photo_like(320, 700, seed=3)
    monkeypatch.setattr(ela, "STRIP_PIXELS", 0)
    monkeypatch.setattr(ela, "MARGIN_ROWS", 0)
    assert not np.array_equal(ela.difference_map(rgb), _whole_image_difference(rgb))


def test_a_tall_narrow_image_takes_few_strips() -> None:
    """Strip height follows a pixel budget: a 40-pixel-wide image of 60,000 rows is three saves,
    not 235, and still the whole image's difference exactly."""
    assert ela.strip_rows(4000) == 256 and ela.strip_rows(40) % 16 == 0
    assert ela.strip_rows(40) * 40 >= ela.STRIP_PIXELS
    rgb = _photo_like(40, 60_000, seed=5)
    assert np.array_equal(ela.difference_map(rgb), _whole_image_difference(rgb))


def test_an_image_taller_than_jpeg_allows_is_still_measured() -> None:
    """One save of a 1 x 100,000 image fails (libjpeg stops at 65,500 rows); strips do not."""
    rgb = Image.new("RGB", (1, 100_000), (90, 120, 30))
    with pytest.raises(OSError):
        _whole_image_difference(rgb)
    assert ela.difference_map(rgb).shape == (100_000, 1)
