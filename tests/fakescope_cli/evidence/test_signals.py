"""ELA and the noise-residual spectrum: measured values, maps, and the upsampling fingerprint."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.evidence.ela import error_levels
from fakescope_cli.evidence.items import POINTS_AI
from fakescope_cli.evidence.spectrum import PEAK_THRESHOLD_DB, residual_spectrum
from tests.fakescope_cli.evidence.builders import SAMPLES, photo, upsampled_like_a_generator
from tests.fakescope_cli.evidence.conftest import only


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_ela_measures_and_draws(gather) -> None:
    report = gather(_png(photo()), "p.png", figures=True)
    item = only(report, "signal.ela")
    assert item.unit == "8-bit levels" and 0 < item.value["mean"] < item.value["p99"]
    figure = Image.open(io.BytesIO(report.figures["ela"]))
    assert figure.format == "PNG" and figure.mode == "L" and max(figure.size) <= 512


def test_ela_sees_a_pasted_region() -> None:
    base = photo((256, 256), seed=1)
    buffer = io.BytesIO()
    base.save(buffer, format="JPEG", quality=70)
    compressed = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    pasted = compressed.copy()
    pasted.paste(photo((96, 96), seed=2), (80, 80))  # never compressed: re-compresses differently
    assert error_levels(pasted).block_variation > error_levels(compressed).block_variation


def test_no_figures_unless_asked(gather) -> None:
    assert gather(_png(photo()), "p.png").figures == {}


@pytest.mark.parametrize("sample", ["astronaut.png", "chelsea.png", "coffee.png"])
def test_spectrum_real_photos_stay_below_the_hint(gather, sample) -> None:
    item = only(gather((SAMPLES / sample).read_bytes(), sample), "signal.spectrum")
    assert item.value["peak_db"] < PEAK_THRESHOLD_DB and item.points_to == "neutral"


@pytest.mark.parametrize("sample", ["astronaut.png", "chelsea.png", "coffee.png"])
def test_spectrum_sees_transposed_convolution_upsampling(gather, sample) -> None:
    upsampled = upsampled_like_a_generator(Image.open(SAMPLES / sample).convert("RGB"))
    report = gather(_png(upsampled), "up.png", figures=True)
    item = only(report, "signal.spectrum")
    assert item.value["peak_db"] >= PEAK_THRESHOLD_DB and item.points_to == POINTS_AI
    x, y, _ = item.value["peaks"][0]
    assert max(abs(x), abs(y)) == pytest.approx(0.5, abs=0.02)  # the x2 upsampling frequency
    assert Image.open(io.BytesIO(report.figures["spectrum"])).size == (64, 64)


def test_spectrum_of_small_image_is_skipped() -> None:
    assert residual_spectrum(np.zeros((32, 500), np.float32), jpeg_grid=False) is None


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _half(sample: str) -> Image.Image:
    image = Image.open(SAMPLES / sample).convert("RGB")
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


@pytest.mark.parametrize("quality", [70, 95])
@pytest.mark.parametrize("sample", ["astronaut.png", "rocket.jpg"])
def test_spectrum_sees_upsampling_through_jpeg(gather, sample, quality) -> None:
    # The x2 frequency 1/2 is also a JPEG grid frequency: it must be judged above the grid, not hidden.
    upsampled = upsampled_like_a_generator(_half(sample), seed=2)
    item = only(gather(_jpeg(upsampled, quality), "up.jpg"), "signal.spectrum")
    assert item.value["peak_db"] >= PEAK_THRESHOLD_DB + 5 and item.points_to == POINTS_AI
    x, y, _ = item.value["peaks"][0]
    assert max(abs(x), abs(y)) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("quality", [30, 70, 95])
@pytest.mark.parametrize("sample", ["chelsea.png", "coffee.png", "rocket.jpg"])
def test_spectrum_real_photos_resaved_as_jpeg_stay_below_the_hint(gather, sample, quality) -> None:
    photo_jpeg = _jpeg(Image.open(SAMPLES / sample).convert("RGB"), quality)
    item = only(gather(photo_jpeg, "real.jpg", signals=True), "signal.spectrum")
    assert item.value["peak_db"] < PEAK_THRESHOLD_DB - 2 and item.points_to == "neutral"


def test_spectrum_sees_vertical_only_upsampling() -> None:
    # The fy = -1/2 row is its own mirror image and belongs to the half-plane searched.
    rows = np.asarray(_half("coffee.png").convert("L"), dtype=np.float32)
    zeros = np.zeros((rows.shape[0] * 2, rows.shape[1]), np.float32)
    zeros[::2] = rows
    stretched = zeros + 0.7 * np.roll(zeros, 1, axis=0) + 1.3 * np.roll(zeros, -1, axis=0)
    result = residual_spectrum(stretched, jpeg_grid=False)
    assert result is not None and result.peak_db >= PEAK_THRESHOLD_DB
    x, y, _ = result.peaks[0]
    assert abs(y) == pytest.approx(0.5) and x == pytest.approx(0.0, abs=0.02)
