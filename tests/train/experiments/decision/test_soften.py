"""``prep --soften``: a source region made soft per pixel, the same step for every family."""

from __future__ import annotations

import numpy as np

from train.experiments.decision.ae import lap_energy
from train.experiments.decision.prep import softened


def test_a_softened_region_keeps_its_shape_and_loses_fine_detail() -> None:
    region = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    kinds = set()
    for seed in range(8):
        rng = np.random.default_rng(seed)
        kinds.add(rng.random() < 0.5)  # which of the two softenings this seed draws
        soft = softened(region, np.random.default_rng(seed))
        assert soft.shape == region.shape and soft.dtype == np.uint8
        assert lap_energy(soft) < 0.6 * lap_energy(region)
    assert kinds == {True, False}  # both kinds were tried
    again = softened(region, np.random.default_rng(3))
    assert np.array_equal(again, softened(region, np.random.default_rng(3)))  # seeded: reproducible


def test_each_step_draws_its_share_of_crops_from_the_crop_key() -> None:
    from train.experiments.decision.prep import drawn_for

    keys = [f"train/real/p{n}/0" for n in range(400)]
    chosen = [k for k in keys if drawn_for(0, "soften", k, 0.5) is not None]
    assert 150 < len(chosen) < 250  # about half
    assert chosen == [k for k in keys if drawn_for(0, "soften", k, 0.5) is not None]  # reproducible
    assert chosen != [k for k in keys if drawn_for(0, "camera", k, 0.5) is not None]  # steps independent
    assert all(drawn_for(0, "grain", k, 0.0) is None for k in keys)
