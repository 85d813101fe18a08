"""JPEG quantization tables and the double-compression hint, on JPEGs saved here at known qualities."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fakescope_cli.evidence.items import POINTS_EDITED
from fakescope_cli.evidence.jpeg_tables import ZIGZAG, estimate_quality, ijg_table
from tests.fakescope_cli.evidence.builders import SAMPLES, jpeg_bytes, photo
from tests.fakescope_cli.evidence.conftest import only


@pytest.mark.parametrize("quality", [10, 50, 75, 90, 95, 100])
def test_quality_of_standard_tables(gather, quality) -> None:
    item = only(gather(jpeg_bytes(quality=quality), f"q{quality}.jpg"), "jpeg.quantization")
    assert item.value["quality"] == quality and item.value["standard_ijg"] is True
    assert f"quality {quality}" in item.summary


def test_custom_tables_are_not_standard(gather) -> None:
    custom = [[max(1, (i * 7) % 23) for i in range(64)], [max(1, (i * 5) % 31) for i in range(64)]]
    item = only(gather(jpeg_bytes(qtables=custom), "cam.jpg"), "jpeg.quantization")
    assert item.value["standard_ijg"] is False and "not the IJG standard" in item.summary


def test_ijg_scaling_matches_the_libjpeg_rule() -> None:
    assert ijg_table(50)[0, 0] == 16 and ijg_table(100).max() == 1
    assert sorted(ZIGZAG) == list(range(64))
    zigzag = [int(ijg_table(80).ravel()[ZIGZAG[k]]) for k in range(64)]
    assert estimate_quality({0: zigzag}) == (80, True, 0.0)


def _resave(data: bytes, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.mark.parametrize("sample", ["astronaut.png", "coffee.png"])
def test_double_compression_hint(gather, sample) -> None:
    image = Image.open(SAMPLES / sample).convert("RGB")
    single = only(gather(jpeg_bytes(image, quality=90), "single.jpg"), "jpeg.double_compression")
    double = only(gather(_resave(jpeg_bytes(image, quality=60), 90), "double.jpg"), "jpeg.double_compression")
    assert single.points_to == "neutral" and single.value < 0.6
    assert double.points_to == POINTS_EDITED and double.value > 0.6


def test_flat_image_gives_no_answer(gather) -> None:
    flat = Image.new("RGB", (256, 256), (120, 120, 120))
    item = only(gather(jpeg_bytes(flat), "flat.jpg"), "jpeg.double_compression")
    assert item.value is None and "too flat" in item.summary


def test_png_has_no_jpeg_findings(gather) -> None:
    buffer = io.BytesIO()
    photo().save(buffer, format="PNG")
    report = gather(buffer.getvalue(), "p.png")
    assert not [i for i in report.items if i.id.startswith("jpeg.")]


@pytest.mark.parametrize("quality", [60, 75, 95])
@pytest.mark.parametrize("sample", ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"])
def test_single_saves_of_real_photos_are_not_double(gather, sample, quality) -> None:
    image = Image.open(SAMPLES / sample).convert("RGB")
    item = only(gather(jpeg_bytes(image, quality=quality), "single.jpg"), "jpeg.double_compression")
    assert item.points_to == "neutral" and item.value < 0.5


@pytest.mark.parametrize("sample", ["astronaut.png", "coffee.png"])
def test_higher_quality_first_is_a_stated_limit(gather, sample) -> None:
    # 90 then 70 leaves too faint a trace to tell from a single save: neutral, and the limits say so.
    image = Image.open(SAMPLES / sample).convert("RGB")
    item = only(gather(_resave(jpeg_bytes(image, quality=90), 70), "double.jpg"), "jpeg.double_compression")
    assert item.points_to == "neutral" and "lower quality" in item.summary
    assert "cannot show an earlier save at a higher quality" in (item.limits or "")
