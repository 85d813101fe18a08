"""JPEG quantization tables: which encoder family and quality, and a double-compression hint.

Tables are compared with the IJG (libjpeg) standard tables scaled to every quality 1-100: an
exact match means a libjpeg-family encoder (Pillow, GIMP, most web services and many phones) at
that quality; cameras and Adobe products usually write tables of their own.
"""

from __future__ import annotations

import numpy as np

from fakescope_cli.evidence.items import NONE, POINTS_EDITED, POINTS_NEUTRAL, WEAK, EvidenceItem

# Natural (row-major) order, ITU-T T.81 Annex K.
_IJG_LUMA = [
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
]
_IJG_CHROMA = [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5
_IJG_CHROMA += [47, 66] + [99] * 6 + [99] * 32
# Position in natural order of the k-th value stored in a DQT segment (zigzag scan).
ZIGZAG = [
    0,
    1,
    8,
    16,
    9,
    2,
    3,
    10,
    17,
    24,
    32,
    25,
    18,
    11,
    4,
    5,
    12,
    19,
    26,
    33,
    40,
    48,
    41,
    34,
    27,
    20,
    13,
    6,
    7,
    14,
    21,
    28,
    35,
    42,
    49,
    56,
    57,
    50,
    43,
    36,
    29,
    22,
    15,
    23,
    30,
    37,
    44,
    51,
    58,
    59,
    52,
    45,
    38,
    31,
    39,
    46,
    53,
    60,
    61,
    54,
    47,
    55,
    62,
    63,
]
LIMITS = (
    "Quantization tables name the last encoder, not the origin: a generated image saved by Pillow and a "
    "photo re-saved by Pillow look the same here."
)


def natural_order(zigzag_table: list[int]) -> np.ndarray:
    table = np.zeros(64, dtype=np.int64)
    table[ZIGZAG] = zigzag_table
    return table.reshape(8, 8)


def ijg_table(quality: int, chroma: bool = False) -> np.ndarray:
    """The libjpeg standard table at ``quality``, natural order, 8x8."""
    base = np.array(_IJG_CHROMA if chroma else _IJG_LUMA, dtype=np.int64)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255).reshape(8, 8)


def estimate_quality(tables: dict[int, list[int]]) -> tuple[int, bool, float]:
    """(closest IJG quality, exact match?, mean absolute deviation from it) for tables 0 and 1."""
    present = [(natural_order(tables[i]), i == 1) for i in (0, 1) if i in tables]
    best = (50, False, float("inf"))
    for quality in range(1, 101):
        deviation = float(np.mean([np.abs(t - ijg_table(quality, chroma)).mean() for t, chroma in present]))
        if deviation < best[2]:
            best = (quality, deviation == 0.0, deviation)
    return best


def quant_table_finding(tables: dict[int, list[int]], frames: list[str]) -> EvidenceItem:
    quality, exact, deviation = estimate_quality(tables)
    coding = frames[0] if frames else "unknown"
    value = {
        "quality": quality,
        "standard_ijg": exact,
        "mean_abs_deviation": round(deviation, 3),
        "tables": len(tables),
        "coding": coding,
    }
    if exact:
        summary = f"JPEG tables are the IJG standard at quality {quality} (libjpeg-family encoder), {coding}"
    else:
        summary = (
            f"JPEG tables are not the IJG standard (closest quality {quality}, mean deviation "
            f"{deviation:.1f}): a camera's or another encoder's own tables, {coding}"
        )
    return EvidenceItem(
        "jpeg.quantization",
        "signal",
        summary,
        value,
        unit="quality (1-100)",
        location="JPEG DQT segments",
        limits=LIMITS,
    )


def _block_dct_matrix() -> np.ndarray:
    k = np.arange(8)
    matrix = np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    matrix[0] /= np.sqrt(2)
    return matrix


# Low-frequency AC coefficients (natural-order row, column) used for the double-quantization test.
_DQ_COEFFS = [(0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2)]


def double_quantization_box(width: int, height: int) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the luminance the double-compression test reads: at most
    1024 x 1024 from the centre, on the 8 x 8 grid (about a megapixel keeps large photos fast);
    None when the image is too small to tell. Passing only this region gives the same score."""
    height, width = (height // 8) * 8, (width // 8) * 8
    if height < 64 or width < 64:
        return None
    crop_h, crop_w = min(height, 1024), min(width, 1024)
    top, left = ((height - crop_h) // 16) * 8, ((width - crop_w) // 16) * 8
    return left, top, left + crop_w, top + crop_h


def double_quantization_score(luma: np.ndarray, luma_table: list[int]) -> float | None:
    """How periodic the histograms of re-quantized DCT coefficients are (0 = smooth).

    A JPEG compressed twice on the same 8x8 grid with different tables leaves periodic gaps or peaks
    in these histograms; a single compression leaves smooth, Laplacian-shaped ones. ``luma`` is the
    decoded luminance without colour conversion. None when the image is too flat to tell.
    """
    box = double_quantization_box(luma.shape[1], luma.shape[0])
    if box is None:
        return None
    left, top, right, bottom = box
    crop_h, crop_w = bottom - top, right - left
    region = luma[top:bottom, left:right].astype(np.float64) - 128.0
    blocks = region.reshape(crop_h // 8, 8, crop_w // 8, 8).transpose(0, 2, 1, 3)
    dct = _block_dct_matrix()
    coefficients = np.einsum("ij,abjk,lk->abil", dct, blocks, dct, optimize=True)
    table = natural_order(luma_table)
    scores = []
    for row, col in _DQ_COEFFS:
        quantized = np.rint(coefficients[:, :, row, col] / table[row, col]).astype(np.int64).ravel()
        magnitudes = np.abs(quantized)
        histogram = np.bincount(magnitudes[(magnitudes > 0) & (magnitudes <= 24)], minlength=25)[1:]
        if histogram.sum() < 400 or np.count_nonzero(histogram) < 4:
            continue
        h = histogram / histogram.sum()
        # Roughness: how far each bin sits from the line through its neighbours, relative to them.
        middle, neighbours = h[1:-1], (h[:-2] + h[2:]) / 2
        used = neighbours > 0.002
        if used.sum() < 3:
            continue
        scores.append(float(np.mean(np.abs(middle[used] - neighbours[used]) / neighbours[used])))
    return float(np.median(scores)) if scores else None


DOUBLE_JPEG_THRESHOLD = 0.6


def double_quantization_finding(score: float | None) -> EvidenceItem:
    limits = (
        "Sees an earlier save at a lower quality than the last (say 60, then 90), on the same 8x8 grid. "
        "It cannot show an earlier save at a higher quality (say 90, then 70, the usual path of a "
        "re-shared image): the coarser last quantization leaves only a faint pattern that single "
        "saves also show by chance. Cropping or resizing in between hides any earlier save, and very "
        "smooth images give no answer."
    )
    if score is None:
        return EvidenceItem(
            "jpeg.double_compression",
            "signal",
            "double-compression test: image too flat or small to tell",
            None,
            location="JPEG DCT coefficients (luminance)",
            limits=limits,
        )
    hinted = score >= DOUBLE_JPEG_THRESHOLD
    return EvidenceItem(
        "jpeg.double_compression",
        "signal",
        f"DCT histograms {'show' if hinted else 'do not show'} the periodic pattern of an earlier JPEG "
        f"save at a lower quality (periodicity {score:.2f}, hint at {DOUBLE_JPEG_THRESHOLD})",
        round(score, 4),
        unit="relative roughness",
        points_to=POINTS_EDITED if hinted else POINTS_NEUTRAL,
        strength=WEAK if hinted else NONE,
        location="JPEG DCT coefficients (luminance)",
        limits=limits,
    )
