"""Error level analysis: re-save at a known JPEG quality and measure how much each region changes.

Regions that were pasted in or retouched after the last save often re-compress differently from
the rest. A map for the eye, with a few numbers: it cannot tell generated from real.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

from fakescope_cli.evidence.figures import png_map
from fakescope_cli.evidence.items import EvidenceItem

ELA_QUALITY = 90
BLOCK = 32
LIMITS = (
    "ELA shows where re-compression error differs; edges, texture and saturated colours differ "
    "naturally. It is a map to look at, not a test, and says nothing about AI generation by itself."
)


@dataclass(frozen=True)
class ElaResult:
    mean: float
    p99: float
    block_variation: float  # coefficient of variation of the per-block mean error
    figure: bytes | None


MAX_ELA_PIXELS = 16_000_000


def _centre_crop(rgb: Image.Image) -> Image.Image:
    """At most MAX_ELA_PIXELS from the centre, on the 8x8 JPEG grid, so huge images stay cheap."""
    width, height = rgb.size
    if width * height <= MAX_ELA_PIXELS:
        return rgb
    scale = (MAX_ELA_PIXELS / (width * height)) ** 0.5
    crop_w, crop_h = max(8, int(width * scale) // 8 * 8), max(8, int(height * scale) // 8 * 8)
    left, top = (width - crop_w) // 16 * 8, (height - crop_h) // 16 * 8
    return rgb.crop((left, top, left + crop_w, top + crop_h))


# Strips keep memory small (a 12-megapixel image would hold five full-size planes at once). Each
# strip starts on the 16-row grid of a 4:2:0 JPEG and carries MARGIN rows of context on either
# side, which the decoder's chroma upsampling reads; the rows kept come out exactly as they would
# from one save of the whole image.
STRIP_ROWS = 256  # at least; narrow images get taller strips (STRIP_PIXELS)
STRIP_PIXELS = 1_000_000  # so a tall, narrow image is not thousands of tiny saves
MARGIN_ROWS = 16


JPEG_MAX_SIDE = 65_500  # libjpeg's limit: a strip with its margins must stay under it


def strip_rows(width: int) -> int:
    """Rows a strip holds: STRIP_ROWS, or more for a narrow image, on the 16-row grid."""
    rows = max(STRIP_ROWS, -(-STRIP_PIXELS // max(width, 1)))
    return min(-(-rows // 16) * 16, (JPEG_MAX_SIDE - 2 * MARGIN_ROWS) // 16 * 16)


def _strip_difference(strip: Image.Image) -> np.ndarray:
    """Per pixel, the largest channel change of ``strip`` re-saved at ELA_QUALITY (uint8)."""
    buffer = io.BytesIO()
    strip.save(buffer, format="JPEG", quality=ELA_QUALITY)
    with Image.open(io.BytesIO(buffer.getvalue()), formats=["JPEG"]) as resaved:
        resaved.load()
        # A JPEG we wrote from RGB decodes as RGB: converting would only copy it.
        again = resaved if resaved.mode == "RGB" else resaved.convert("RGB")
        red, green, blue = ImageChops.difference(strip, again).split()
    return np.asarray(ImageChops.lighter(red, ImageChops.lighter(green, blue)))


def difference_map(rgb: Image.Image) -> np.ndarray:
    """The re-save error of every pixel, the largest over the three channels (uint8, H x W)."""
    width, height = rgb.size
    out = np.empty((height, width), dtype=np.uint8)
    rows = strip_rows(width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        start, end = max(0, top - MARGIN_ROWS), min(height, bottom + MARGIN_ROWS)
        strip = _strip_difference(rgb.crop((0, start, width, end)))
        out[top:bottom] = strip[top - start : bottom - start]
    return out


def error_levels(rgb: Image.Image, want_figure: bool = False) -> ElaResult:
    """ELA of the image (of its central 16 megapixels when larger)."""
    difference = difference_map(_centre_crop(rgb))
    # Row block by row block: bincount widens its input to 64-bit integers (96 MB at 12 MP).
    histogram = sum(
        (np.bincount(difference[top : top + STRIP_ROWS].ravel(), minlength=256)
         for top in range(0, difference.shape[0], STRIP_ROWS)),
        np.zeros(256, dtype=np.int64),
    )  # fmt: skip
    mean = float(histogram @ np.arange(256) / difference.size)
    p99 = float(np.searchsorted(np.cumsum(histogram), 0.99 * difference.size))
    height, width = (difference.shape[0] // BLOCK) * BLOCK, (difference.shape[1] // BLOCK) * BLOCK
    if height and width:
        blocks = difference[:height, :width].reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK)
        block_means = blocks.sum(axis=(1, 3), dtype=np.uint32) / float(BLOCK * BLOCK)
        variation = float(block_means.std() / max(block_means.mean(), 1e-6))
    else:
        variation = 0.0
    figure = png_map(difference.astype(np.float32) / max(p99, 1.0)) if want_figure else None
    return ElaResult(mean, p99, variation, figure)


def ela_finding(result: ElaResult) -> EvidenceItem:
    return EvidenceItem(
        "signal.ela",
        "signal",
        f"error level at JPEG quality {ELA_QUALITY}: mean {result.mean:.2f}, 99th percentile "
        f"{result.p99:.0f} levels; block-to-block variation {result.block_variation:.2f}",
        {
            "mean": round(result.mean, 3),
            "p99": round(result.p99, 3),
            "block_variation": round(result.block_variation, 4),
            "quality": ELA_QUALITY,
        },
        unit="8-bit levels",
        location="decoded pixels",
        limits=LIMITS,
    )
