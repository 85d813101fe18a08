"""``prep --camera``: a source region as a camera would have recorded it."""

from __future__ import annotations

import numpy as np

from train.experiments.decision.camera import (
    bayer_masks,
    camera_pipeline,
    demosaic_bilinear,
    demosaic_mhc,
    grained,
    linear_to_srgb,
    srgb_to_linear,
)


def _smooth_picture(size: int = 96) -> np.ndarray:
    """Band-limited detail shared by the three channels, as in a natural scene."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    detail = np.sin(20 * xx + 1) * np.cos(7 * yy)
    return np.stack([0.5 + 0.3 * detail, 0.5 + 0.3 * detail, 0.4 + 0.2 * detail], -1).astype(np.float32)


def test_the_mosaic_has_one_colour_per_site_and_half_of_them_green() -> None:
    for dy in (0, 1):
        for dx in (0, 1):
            r, g, b = bayer_masks(6, 8, dy, dx)
            assert np.array_equal(r.astype(int) + g + b, np.ones((6, 8), int))
            assert g.sum() == 24 and r.sum() == b.sum() == 12


def test_both_demosaicers_rebuild_a_smooth_picture_and_mhc_does_better() -> None:
    picture = _smooth_picture()
    masks = bayer_masks(*picture.shape[:2], 1, 0)
    raw = np.select(masks, [picture[..., 0], picture[..., 1], picture[..., 2]]).astype(np.float32)
    errors = {}
    for demosaic in (demosaic_bilinear, demosaic_mhc):
        out = demosaic(raw, masks)
        inner = (slice(4, -4), slice(4, -4))
        errors[demosaic.__name__] = float(np.abs(out[inner] - picture[inner]).max())
        assert errors[demosaic.__name__] < 0.01, errors  # well under one 8-bit level's worth x2.5
        assert np.array_equal(out[..., 1][masks[1]], raw[masks[1]])  # measured sites are kept
    assert errors["demosaic_mhc"] < errors["demosaic_bilinear"]


def test_the_pipeline_keeps_the_shape_adds_sensor_noise_and_is_seeded() -> None:
    grey = np.full((64, 64, 3), 128, np.uint8)
    shot = camera_pipeline(grey, np.random.default_rng(0))
    assert shot.shape == grey.shape and shot.dtype == np.uint8
    assert shot.astype(float).std() > 0.3  # a flat scene is no longer flat: the sensor's noise
    assert abs(shot.astype(float).mean() - 128) < 3  # and its level is kept
    for level in (0, 8, 250):  # the tone curve keeps levels where they were, shadows included
        flat = camera_pipeline(np.full((64, 64, 3), level, np.uint8), np.random.default_rng(1))
        assert abs(flat.astype(float).mean() - level) < 1.5, level
    picture = np.round(_smooth_picture(64) * 255).astype(np.uint8)
    first = camera_pipeline(picture, np.random.default_rng(5))
    assert np.array_equal(first, camera_pipeline(picture, np.random.default_rng(5)))
    assert not np.array_equal(first, camera_pipeline(picture, np.random.default_rng(6)))


def test_the_srgb_curves_invert_each_other_and_noise_below_zero_stays_symmetric() -> None:
    values = np.linspace(0.0, 1.0, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-5)
    small = np.array([0.001], np.float32)
    assert linear_to_srgb(-small)[0] == -linear_to_srgb(small)[0]


def test_grain_is_zero_mean_noise_of_a_drawn_strength() -> None:
    flat = np.full((64, 64, 3), 100, np.uint8)
    strengths = []
    for seed in range(4):
        out = grained(flat, np.random.default_rng(seed)).astype(float)
        assert abs(out.mean() - 100) < 0.5 and np.allclose(out[..., 0], out[..., 2])  # luma only
        strengths.append(out.std())
    assert min(strengths) > 0.3 and max(strengths) - min(strengths) > 0.3
