"""The ae-tiny family's autoencoder: a run of fixed steps gives the same weights every time."""

from __future__ import annotations

import numpy as np
import torch

from train.experiments.decision.ae import train_ae


def test_a_run_of_fixed_steps_is_the_same_run_twice() -> None:
    patches = np.random.default_rng(0).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    first, info = train_ae(patches, seconds=1e9, seed=3, batch=4, steps=5)
    second, _ = train_ae(patches, seconds=1e9, seed=3, batch=4, steps=5)
    assert info["steps"] == 5
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    other, _ = train_ae(patches, seconds=1e9, seed=4, batch=4, steps=5)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), other.state_dict().values(), strict=True)
    )
