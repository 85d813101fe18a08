"""What every generator family provides to the shared trainer and sampler."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from fakescope_cli.errors import ConfigError
from train.generators.registry import FamilySpec, family_spec

Nets = dict[str, nn.Module]
Optimizers = dict[str, torch.optim.Optimizer]

MIN_SIZE, MAX_SIZE = 16, 1024
MAX_WIDTH = 1024


def check_image_size(image_size: int) -> None:
    """Every family halves or doubles the resolution in whole steps: a power of two is required."""
    if not (MIN_SIZE <= image_size <= MAX_SIZE) or image_size & (image_size - 1):
        raise ConfigError(
            f"--image-size {image_size}: give a power of two from {MIN_SIZE} to {MAX_SIZE} (e.g. 128)"
        )


def check_width(width: int) -> None:
    if not 1 <= width <= MAX_WIDTH:
        raise ConfigError(f"--width {width}: give a channel count from 1 to {MAX_WIDTH}")


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups: per-image statistics, so a sample never depends on its batch."""
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class Family(ABC):
    """A generator family: its networks, one training step, and sampling.

    ``params`` (image_size, width and family settings) is stored in ``config.json`` and is all a
    family needs to rebuild its networks. ``saved`` names the networks sampling needs (only these
    are written); those in ``averaged`` are saved as their exponential moving average.
    """

    name: ClassVar[str]
    saved: ClassVar[tuple[str, ...]]
    averaged: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.image_size = int(params["image_size"])
        self.width = int(params["width"])
        check_image_size(self.image_size)  # params may come from a config file: check again
        check_width(self.width)

    @classmethod
    def spec(cls) -> FamilySpec:
        return family_spec(cls.name)

    @classmethod
    def make_params(cls, image_size: int, width: int) -> dict[str, Any]:
        """The family's settings for a new run (subclasses add theirs)."""
        check_image_size(image_size)
        check_width(width)
        return {"image_size": image_size, "width": width}

    @abstractmethod
    def build(self) -> Nets:
        """All networks, freshly initialised from the current torch seed."""

    @abstractmethod
    def optimizers(self, nets: Nets) -> Optimizers: ...

    @abstractmethod
    def train_step(
        self, nets: Nets, optimizers: Optimizers, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, float]:
        """One update on ``batch`` (N, 3, S, S) in [-1, 1]; returns the named losses."""

    def noise_shape(self) -> tuple[int, ...] | None:
        """Shape of one image's starting noise, or None when sampling starts from a real crop."""
        return None

    @abstractmethod
    def sample(self, nets: Nets, noise: torch.Tensor | None, sources: torch.Tensor | None) -> torch.Tensor:
        """Images (N, 3, S, S) in [-1, 1] from per-image ``noise`` or real ``sources`` crops."""
