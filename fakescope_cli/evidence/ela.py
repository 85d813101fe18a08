"""Error level analysis: re-save at a known JPEG quality and measure how much each region changes.

Regions that were pasted in or retouched after the last save often re-compress differently from
the rest. A map for the eye, with a few numbers: it cannot tell generated from real.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

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


def error_levels(rgb: Image.Image, want_figure: bool = False) -> ElaResult:
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=ELA_QUALITY)
    with Image.open(io.BytesIO(buffer.getvalue()), formats=["JPEG"]) as resaved:
        again = np.asarray(resaved.convert("RGB"), dtype=np.int16)
    original = np.asarray(rgb, dtype=np.int16)
    difference = np.abs(original - again).max(axis=2).astype(np.float32)
    height, width = (difference.shape[0] // BLOCK) * BLOCK, (difference.shape[1] // BLOCK) * BLOCK
    if height and width:
        blocks = difference[:height, :width].reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK)
        block_means = blocks.mean(axis=(1, 3))
        variation = float(block_means.std() / max(block_means.mean(), 1e-6))
    else:
        variation = 0.0
    p99 = float(np.percentile(difference, 99))
    figure = png_map(difference / max(p99, 1.0)) if want_figure else None
    return ElaResult(float(difference.mean()), p99, variation, figure)


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
