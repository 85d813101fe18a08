"""``ae-resynth``: an autoencoder whose decoder re-synthesises real crops.

A real crop is encoded to a 4-channel latent at 1/4 resolution (the shape of a latent-diffusion
VAE latent, at f = 4 rather than Stable Diffusion's f = 8 so a small model stays sharp) and
decoded with nearest-neighbour upsampling + convolutions; the decoded image is the "fake". Its
content is the source's, so only the decoder's trace separates the two. The source crops must
not be the ones used as the real class: give ``generate`` a disjoint folder.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from train.generators.family import Family, Nets, Optimizers, group_norm

LATENT_CHANNELS = 4
HALVINGS = 2  # latent at 1/4 resolution
LEARNING_RATE = 2e-4


class Block(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            group_norm(channels_in),
            nn.SiLU(),
            nn.Conv2d(channels_in, channels_out, 3, padding=1),
            group_norm(channels_out),
            nn.SiLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1),
        )
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a 3x3 convolution (as in latent-diffusion VAE decoders)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def encoder(width: int) -> nn.Module:
    chans = [width * 2**i for i in range(HALVINGS + 1)]
    layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1)]
    for c_in, c_out in pairwise(chans):
        layers += [Block(c_in, c_in), nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)]
    layers += [Block(chans[-1], chans[-1]), group_norm(chans[-1]), nn.SiLU()]
    layers += [nn.Conv2d(chans[-1], LATENT_CHANNELS, 3, padding=1)]
    return nn.Sequential(*layers)


def decoder(width: int) -> nn.Module:
    chans = [width * 2**i for i in range(HALVINGS, -1, -1)]
    layers: list[nn.Module] = [nn.Conv2d(LATENT_CHANNELS, chans[0], 3, padding=1), Block(chans[0], chans[0])]
    for c_in, c_out in pairwise(chans):
        layers += [Upsample(c_in), Block(c_in, c_out)]
    layers += [group_norm(chans[-1]), nn.SiLU(), nn.Conv2d(chans[-1], 3, 3, padding=1)]
    return nn.Sequential(*layers)


class AeResynth(Family):
    name = "ae-resynth"
    saved = ("encoder", "decoder")

    @classmethod
    def make_params(cls, image_size: int, width: int) -> dict[str, Any]:
        params = super().make_params(image_size, width)
        return {**params, "latent_channels": LATENT_CHANNELS, "latent_factor": 2**HALVINGS}

    def build(self) -> Nets:
        return {"encoder": encoder(self.width), "decoder": decoder(self.width)}

    def optimizers(self, nets: Nets) -> Optimizers:
        parameters = [p for net in nets.values() for p in net.parameters()]
        return {"autoencoder": torch.optim.Adam(parameters, lr=LEARNING_RATE)}

    def train_step(
        self, nets: Nets, optimizers: Optimizers, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, float]:
        """L1 reconstruction (no randomness beyond the batch itself)."""
        loss = F.l1_loss(nets["decoder"](nets["encoder"](batch)), batch)
        optimizers["autoencoder"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["autoencoder"].step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def sample(self, nets: Nets, noise: torch.Tensor | None, sources: torch.Tensor | None) -> torch.Tensor:
        assert sources is not None
        return nets["decoder"](nets["encoder"](sources)).clamp(-1.0, 1.0)


FAMILY = AeResynth
