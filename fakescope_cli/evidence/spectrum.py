"""Noise-residual spectrum: periodic peaks left by upsampling layers.

The image's high-pass residual (what is left after removing the local mean) is cut into tiles;
the power spectra of the residual and of its magnitude are averaged, and each frequency is
compared with the median of its neighbourhood. Generators that upsample with transposed
convolutions or fixed interpolation leave narrow periodic peaks; camera noise is broadband.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakescope_cli.evidence.figures import png_map
from fakescope_cli.evidence.items import NONE, POINTS_AI, POINTS_NEUTRAL, WEAK, EvidenceItem

TILE = 64
MAX_TILES = 256
PEAK_THRESHOLD_DB = 12.0
LIMITS = (
    "Resizing, screenshots, halftone prints, fabric and other regular textures also make periodic "
    "peaks; JPEG's 8x8 grid does too (on JPEG files its frequencies are left out, except the x2 "
    "upsampling frequency 1/2, measured above the grid's own level there). A hint, never proof."
)


@dataclass(frozen=True)
class SpectrumResult:
    peak_db: float  # strongest peak above its neighbourhood, in dB
    peaks: list[tuple[float, float, float]]  # (cycles/pixel x, cycles/pixel y, dB), strongest first
    tiles: int
    figure: bytes | None


def _residual_tiles(gray: np.ndarray) -> list[np.ndarray]:
    """High-pass residual (pixel minus the mean of its 4 neighbours) of up to MAX_TILES tiles spread
    over the image; computed per tile, so a 12-megapixel photo costs no more than ~1 megapixel."""
    height, width = gray.shape[0] - 2, gray.shape[1] - 2
    rows, cols = max(1, height // TILE), max(1, width // TILE)
    step_r, step_c = max(1, rows // 16), max(1, cols // 16)
    out = []
    for r in range(0, rows, step_r):
        for c in range(0, cols, step_c):
            patch = gray[r * TILE : r * TILE + TILE + 2, c * TILE : c * TILE + TILE + 2].astype(np.float32)
            centre = patch[1:-1, 1:-1]
            neighbours = patch[:-2, 1:-1] + patch[2:, 1:-1] + patch[1:-1, :-2] + patch[1:-1, 2:]
            out.append(centre - neighbours / 4)
            if len(out) >= MAX_TILES:
                return out
    return out


def _local_median(values: np.ndarray, size: int = 5) -> np.ndarray:
    from scipy.ndimage import median_filter

    return np.asarray(median_filter(values, size=size, mode="wrap"))


# Indices (after fftshift) of frequency f: TILE // 2 + f * TILE; -1/2 is index 0.
_CENTRE, _STEP = TILE // 2, TILE // 8
# The period-2 points (x2 upsampling) and, for each, the 8x8-grid harmonics k/8 (k = 1..3) in the
# same direction: what the JPEG block grid alone puts near there.
_NYQUIST = [
    ((_CENTRE, 0), [(_CENTRE, _CENTRE + k * _STEP) for k in (1, 2, 3)]),
    ((0, _CENTRE), [(_CENTRE + k * _STEP, _CENTRE) for k in (1, 2, 3)]),
    ((0, 0), [(_CENTRE + k * _STEP, _CENTRE + sign * k * _STEP) for k in (1, 2, 3) for sign in (1, -1)]),
]


def _above_block_grid(excess: np.ndarray) -> list[tuple[float, float, float]]:
    """Period-2 peaks of a JPEG, measured above the level of the block grid's own harmonics.

    The 8x8 grid puts peaks of similar size at every multiple of 1/8 cycle/pixel, 1/2 included; an
    x2 upsampling layer puts a far stronger one at 1/2 alone (and sidebands at 1/2 - k/8 where
    JPEG modulates it). So the excess at 1/2 is reduced by the weakest grid harmonic in the same
    direction (the one its sidebands raised least), when that is positive.
    """
    out = []
    for (row, col), harmonics in _NYQUIST:
        grid_level = max(0.0, min(float(excess[r, c]) for r, c in harmonics))
        out.append(((col - _CENTRE) / TILE, (row - _CENTRE) / TILE, float(excess[row, col]) - grid_level))
    return out


def residual_spectrum(gray: np.ndarray, jpeg_grid: bool, want_figure: bool = False) -> SpectrumResult | None:
    """None when the image is smaller than one tile."""
    if gray.shape[0] < TILE + 2 or gray.shape[1] < TILE + 2:
        return None
    window = np.outer(np.hanning(TILE), np.hanning(TILE)).astype(np.float32)
    power = np.zeros((TILE, TILE), dtype=np.float64)
    power_abs = np.zeros((TILE, TILE), dtype=np.float64)
    tiles = _residual_tiles(gray)
    for tile in tiles:
        tile = tile - tile.mean()
        power += np.abs(np.fft.fft2(tile * window)) ** 2
        magnitude = np.abs(tile)
        power_abs += np.abs(np.fft.fft2((magnitude - magnitude.mean()) * window)) ** 2
    scores = []
    for spectrum in (power, power_abs):
        log_power = 10 * np.log10(np.fft.fftshift(spectrum) / len(tiles) + 1e-12)
        scores.append(log_power - _local_median(log_power))
    excess = np.maximum(scores[0], scores[1])
    frequencies = (np.arange(TILE) - TILE // 2) / TILE
    fy, fx = np.meshgrid(frequencies, frequencies, indexing="ij")
    mask = np.hypot(fx, fy) > 4 / TILE  # leave out the lowest frequencies (image content)
    if jpeg_grid:
        for axis in (fx, fy):
            nearest = np.round(axis * 8) / 8
            mask &= ~((np.abs(axis - nearest) <= 1.5 / TILE) & (nearest != 0))
        mask &= ~(
            (np.abs(fx * 8 - np.round(fx * 8)) <= 1.5 * 8 / TILE)
            & (np.abs(fy * 8 - np.round(fy * 8)) <= 1.5 * 8 / TILE)
        )
    # The spectrum is symmetric: one half-plane, plus the fy = -1/2 row (its own mirror image).
    masked = np.where(mask & ((fy >= 0) | (fy == frequencies[0])), excess, -np.inf)
    order = np.argsort(masked, axis=None)[::-1][:3]
    peaks = [
        (float(fx.flat[i]), float(fy.flat[i]), float(masked.flat[i]))
        for i in order
        if np.isfinite(masked.flat[i])
    ]
    if jpeg_grid:
        peaks = sorted(peaks + _above_block_grid(excess), key=lambda peak: -peak[2])[:3]
    figure = None
    if want_figure:
        log_power = 10 * np.log10(np.fft.fftshift(power) / len(tiles) + 1e-12)
        low, high = np.percentile(log_power, 1), np.percentile(log_power, 99.9)
        figure = png_map((log_power - low) / max(high - low, 1e-6))
    return SpectrumResult(peaks[0][2] if peaks else 0.0, peaks, len(tiles), figure)


def spectrum_finding(result: SpectrumResult | None) -> EvidenceItem:
    if result is None:
        return EvidenceItem(
            "signal.spectrum",
            "signal",
            f"image smaller than {TILE}x{TILE}: no spectrum",
            None,
            location="decoded pixels",
            limits=LIMITS,
        )
    periodic = result.peak_db >= PEAK_THRESHOLD_DB
    where = ", ".join(f"({x:+.3f}, {y:+.3f})" for x, y, _ in result.peaks[:3])
    verdict = f"periodic pattern at {where} cycles/pixel" if periodic else "no clear periodic pattern"
    return EvidenceItem(
        "signal.spectrum",
        "signal",
        f"noise-residual spectrum: strongest periodic peak {result.peak_db:.1f} dB above its surroundings "
        f"({verdict}; hint at {PEAK_THRESHOLD_DB:.0f} dB)",
        {
            "peak_db": round(result.peak_db, 2),
            "tiles": result.tiles,
            "peaks": [[round(x, 4), round(y, 4), round(db, 2)] for x, y, db in result.peaks],
        },
        unit="dB",
        points_to=POINTS_AI if periodic else POINTS_NEUTRAL,
        strength=WEAK if periodic else NONE,
        location="decoded pixels (luminance residual)",
        limits=LIMITS,
    )
