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
def test_strips_give_exactly_the_whole_image_difference(width: int, height: int) -> None:
    rgb = _photo_like(width, height, seed=width + height)
    striped = ela.difference_map(rgb)
    assert striped.shape == (height, width)
    assert np.array_equal(striped, _whole_image_difference(rgb))
    assert striped.max() > 0  # a real re-save error, not an empty map


def test_without_margins_the_strip_edges_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The margins are what makes the equality hold (so the test above can fail)."""
    rgb = _photo_like(320, 700, seed=3)
    monkeypatch.setattr(ela, "MARGIN_ROWS", 0)
    assert not np.array_equal(ela.difference_map(rgb), _whole_image_difference(rgb))
