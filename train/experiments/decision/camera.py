"""A camera's own pipeline, simulated on a photograph region: what a camera-original picture at its
own size carries per pixel and a downscaled wallpaper does not.

The sRGB curve undone, lens blur, a Bayer colour filter (RGGB at a drawn phase), sensor noise
(shot noise that grows with the signal, plus read noise), demosaicing (bilinear, or
Malvar-He-Cutler's gradient-corrected filters), then the sRGB curve, colour noise reduction and
sharpening. Every parameter is
drawn per region from the caller's generator, so a data set that uses it is reproducible.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve, gaussian_filter

LENS_SIGMA = (0.3, 0.8)  # px: the optics resolve a little less than the sensor
SHOT_GAIN = (0.0001, 0.001)  # variance per unit of linear signal
READ_SIGMA = (0.0002, 0.001)  # linear units (x12.92 in the sRGB toe: 0.7-3.3 levels of 255)
CHROMA_SIGMA = (0.8, 2.0)  # px: in-camera colour noise reduction
SHARPEN = (0.0, 0.8)  # unsharp-mask amount (radius 1 px)

_BILINEAR_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4
_BILINEAR_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4
# Malvar, He and Cutler (2004), 5x5 filters, scaled by 1/8
_MHC_G_AT_RB = (
    np.array(
        [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]], np.float32
    )
    / 8
)
_MHC_RB_AT_G_ROW = (
    np.array(
        [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]],
        np.float32,
    )
    / 8
)
_MHC_RB_AT_G_COL = _MHC_RB_AT_G_ROW.T
_MHC_RB_AT_BR = (
    np.array(
        [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]],
        np.float32,
    )
    / 8
)


def bayer_masks(h: int, w: int, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean R, G, B sites of an RGGB mosaic whose pattern starts at offset (dy, dx)."""
    yy, xx = np.mgrid[0:h, 0:w]
    ry, rx = (yy + dy) % 2 == 0, (xx + dx) % 2 == 0
    return ry & rx, ry ^ rx, ~ry & ~rx


def demosaic_bilinear(raw: np.ndarray, masks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    r, g, b = masks
    out = np.empty((*raw.shape, 3), np.float32)
    for c, (mask, kernel) in enumerate(((r, _BILINEAR_RB), (g, _BILINEAR_G), (b, _BILINEAR_RB))):
        out[..., c] = convolve(raw * mask, kernel, mode="mirror")
    return out


def demosaic_mhc(raw: np.ndarray, masks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Malvar-He-Cutler: bilinear corrected by the Laplacian of the site's own colour."""
    r, g, b = masks
    rows_with_red: np.ndarray = np.asarray(r.any(axis=1))
    red_rows = np.broadcast_to(rows_with_red[:, None], raw.shape)
    g_at_rb = convolve(raw, _MHC_G_AT_RB, mode="mirror")
    rb_row = convolve(raw, _MHC_RB_AT_G_ROW, mode="mirror")
    rb_col = convolve(raw, _MHC_RB_AT_G_COL, mode="mirror")
    rb_at_br = convolve(raw, _MHC_RB_AT_BR, mode="mirror")
    green = np.where(g, raw, g_at_rb)
    # at a green site in a red row, red comes from the row neighbours and blue from the column
    g_red_row, g_blue_row = g & red_rows, g & ~red_rows
    red = np.where(r, raw, np.where(g_red_row, rb_row, np.where(g_blue_row, rb_col, rb_at_br)))
    blue = np.where(b, raw, np.where(g_blue_row, rb_row, np.where(g_red_row, rb_col, rb_at_br)))
    return np.stack([red, green, blue], axis=-1)


def smooth_chroma(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Blur the colour-difference planes (BT.601), keep the luma."""
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    diff = gaussian_filter(rgb - luma[..., None], sigma=(sigma, sigma, 0), mode="mirror")
    return luma[..., None] + diff


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve inverted (its linear toe kept, so black stays black)."""
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve, odd-symmetric below zero so zero-mean noise stays zero-mean."""
    magnitude = np.abs(values)
    encoded = np.where(magnitude <= 0.0031308, magnitude * 12.92, 1.055 * magnitude ** (1 / 2.4) - 0.055)
    return np.sign(values) * encoded


def camera_pipeline(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``region`` (uint8 RGB) as if a camera had taken it: same shape, uint8."""
    linear = srgb_to_linear(region.astype(np.float32) / 255.0)
    sigma = float(rng.uniform(*LENS_SIGMA))
    linear = gaussian_filter(linear, sigma=(sigma, sigma, 0), mode="mirror")
    h, w = linear.shape[:2]
    masks = bayer_masks(h, w, int(rng.integers(2)), int(rng.integers(2)))
    raw = np.select(masks, [linear[..., 0], linear[..., 1], linear[..., 2]]).astype(np.float32)
    shot, read = float(rng.uniform(*SHOT_GAIN)), float(rng.uniform(*READ_SIGMA))
    noise = rng.standard_normal(raw.shape).astype(np.float32)
    raw = raw + noise * np.sqrt(shot * raw + read**2)  # zero-mean: nothing clipped before the curve
    rgb = demosaic_mhc(raw, masks) if rng.random() < 0.5 else demosaic_bilinear(raw, masks)
    rgb = smooth_chroma(linear_to_srgb(rgb), float(rng.uniform(*CHROMA_SIGMA)))
    amount = float(rng.uniform(*SHARPEN))
    if amount > 0:
        rgb = rgb + amount * (rgb - gaussian_filter(rgb, sigma=(1.0, 1.0, 0), mode="mirror"))
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


GRAIN_SIGMA = (0.5, 3.0)  # levels of 255


def grained(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Film-like grain added after the fact (an editor's filter, or an adversary's): luma noise of
    a drawn strength. Applied alike to real and generated crops, it keeps "has noise" from meaning
    "came from a camera"."""
    sigma = float(rng.uniform(*GRAIN_SIGMA))
    noise = rng.standard_normal(image.shape[:2]).astype(np.float32)[..., None] * sigma
    return np.clip(np.round(image.astype(np.float32) + noise), 0, 255).astype(np.uint8)
