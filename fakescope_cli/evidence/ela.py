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


def error_levels(rgb: Image.Image, want_figure: bool = False) -> ElaResult:
    """ELA of the image (of its central 16 megapixels when larger)."""
    rgb = _centre_crop(rgb)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=ELA_QUALITY)
    with Image.open(io.BytesIO(buffer.getvalue()), formats=["JPEG"]) as resaved:
        per_channel = ImageChops.difference(rgb, resaved.convert("RGB"))
    red, green, blue = per_channel.split()
    difference = np.asarray(
        ImageChops.lighter(red, ImageChops.lighter(green, blue))
    )  # uint8, max of channels
    histogram = np.bincount(difference.ravel(), minlength=256)
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
