"""What the two GAN families share: a generator from a 4x4 seed doubled to full size (the
upsampling block is the family's choice), a spectral-norm discriminator, and hinge-loss training.

The generator uses GroupNorm, not BatchNorm, so a sample never depends on the rest of its batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from train.generators.family import Family, Nets, Optimizers, group_norm

LATENT = 128
BASE = 4
MAX_MULTIPLIER = 8
LEARNING_RATE = 2e-4
BETAS = (0.5, 0.999)


def doublings(image_size: int) -> int:
    return (image_size // BASE).bit_length() - 1


def channels(width: int, steps_from_top: int) -> int:
    """Channels at a level ``steps_from_top`` halvings below full size (doubling, capped)."""
    return width * min(MAX_MULTIPLIER, 2**steps_from_top)


class Generator(nn.Module):
    """z (N, LATENT) -> image (N, 3, S, S) in [-1, 1]; ``upsample(c_in, c_out)`` makes each x2 step."""

    def __init__(self, image_size: int, width: int, upsample: Any) -> None:
        super().__init__()
        n = doublings(image_size)
        top = channels(width, n)
        self.top = top
        self.project = nn.Linear(LATENT, top * BASE * BASE)
        blocks: list[nn.Module] = [group_norm(top), nn.ReLU()]
        for level in range(n, 0, -1):
            c_in, c_out = channels(width, level), channels(width, level - 1)
            blocks += [upsample(c_in, c_out), group_norm(c_out), nn.ReLU()]
        blocks += [nn.Conv2d(width, 3, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(z.shape[0], self.top, BASE, BASE))


class Discriminator(nn.Module):
    """Image -> one real/fake score; strided convolutions with spectral norm down to 4x4."""

    def __init__(self, image_size: int, width: int) -> None:
        super().__init__()
        n = doublings(image_size)
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(3, width, 3, padding=1)), nn.LeakyReLU(0.2)]
        for level in range(n):
            c_in, c_out = channels(width, level), channels(width, level + 1)
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Linear(channels(width, n) * BASE * BASE, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.body(x).flatten(1)).squeeze(1)


class Gan(Family):
    """Hinge-loss GAN; subclasses name the family and give ``upsample``."""

    saved = ("generator",)
    averaged = ("generator",)
    upsample: ClassVar[Any]

    @classmethod
    def make_params(cls, image_size: int, width: int) -> dict[str, Any]:
        return {**super().make_params(image_size, width), "latent": LATENT}

    def build(self) -> Nets:
        return {
            "generator": Generator(self.image_size, self.width, type(self).upsample),
            "discriminator": Discriminator(self.image_size, self.width),
        }

    def optimizers(self, nets: Nets) -> Optimizers:
        return {
            name: torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, betas=BETAS)
            for name, net in nets.items()
        }

    def train_step(
        self, nets: Nets, optimizers: Optimizers, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, float]:
        g, d = nets["generator"], nets["discriminator"]
        z = torch.randn((batch.shape[0], LATENT), generator=generator, device=batch.device)
        fake = g(z)
        d_loss = F.relu(1.0 - d(batch)).mean() + F.relu(1.0 + d(fake.detach())).mean()
        optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["discriminator"].step()
        g_loss = -d(fake).mean()
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers["generator"].step()
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    def noise_shape(self) -> tuple[int, ...]:
        return (LATENT,)

    @torch.no_grad()
    def sample(self, nets: Nets, noise: torch.Tensor | None, sources: torch.Tensor | None) -> torch.Tensor:
        assert noise is not None
        return nets["generator"](noise)
