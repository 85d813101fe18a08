"""``ddpm``: a small UNet trained to predict the noise (DDPM), sampled with deterministic DDIM steps.

The UNet has one residual block per level, channel multipliers (1, 2, 2, 2) (three halvings),
stride-2 convolutions down and nearest-neighbour upsampling + convolution up, no attention.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from train.generators.family import Family, Nets, Optimizers, group_norm

TIMESTEPS = 1000
SAMPLE_STEPS = 50
MULTIPLIERS = (1, 2, 2, 2)
LEARNING_RATE = 2e-4


def alpha_bars(timesteps: int) -> torch.Tensor:
    """Cumulative products of 1 - beta for the linear DDPM schedule (1e-4 to 0.02)."""
    betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0).float()


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, embed: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = group_norm(channels_in), nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.embed = nn.Linear(embed, channels_out)
        self.norm2, self.conv2 = group_norm(channels_out), nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.embed(emb)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    """Noise predictor eps(x_t, t) for images of side ``image_size`` (a power of two >= 16)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width, embed = width, 4 * width
        chans = [width * m for m in MULTIPLIERS]
        self.time = nn.Sequential(nn.Linear(width, embed), nn.SiLU(), nn.Linear(embed, embed))
        self.inp = nn.Conv2d(3, width, 3, padding=1)
        self.down = nn.ModuleList(ResBlock(c_in, c, embed) for c_in, c in pairwise([width, *chans]))
        self.downsamplers = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in chans[:-1])
        self.mid = nn.ModuleList(
            [ResBlock(chans[-1], chans[-1], embed), ResBlock(chans[-1], chans[-1], embed)]
        )
        self.up = nn.ModuleList(ResBlock(2 * c, c, embed) for c in chans)
        self.upsamplers = nn.ModuleList(nn.Conv2d(c, c_out, 3, padding=1) for c_out, c in pairwise(chans))
        self.out_norm, self.out = group_norm(width), nn.Conv2d(width, 3, 3, padding=1)
        for parameter in self.out.parameters():  # start by predicting zero noise
            nn.init.zeros_(parameter)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t, self.width))
        h, skips = self.inp(x), []
        for level, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if level < len(self.downsamplers):
                h = self.downsamplers[level](h)
        for block in self.mid:
            h = block(h, emb)
        for level in reversed(range(len(self.up))):
            h = self.up[level](torch.cat([h, skips.pop()], dim=1), emb)
            if level > 0:
                h = self.upsamplers[level - 1](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.out_norm(h)))


class Ddpm(Family):
    name = "ddpm"
    saved = ("unet",)
    averaged = ("unet",)

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.timesteps = int(params["timesteps"])
        self.sample_steps = int(params["sample_steps"])
        self.alpha_bars = alpha_bars(self.timesteps)

    @classmethod
    def make_params(cls, image_size: int, width: int) -> dict[str, Any]:
        return {
            **super().make_params(image_size, width),
            "timesteps": TIMESTEPS,
            "sample_steps": SAMPLE_STEPS,
        }

    def build(self) -> Nets:
        return {"unet": UNet(self.width)}

    def optimizers(self, nets: Nets) -> Optimizers:
        return {"unet": torch.optim.Adam(nets["unet"].parameters(), lr=LEARNING_RATE)}

    def train_step(
        self, nets: Nets, optimizers: Optimizers, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, float]:
        device = batch.device
        t = torch.randint(0, self.timesteps, (batch.shape[0],), generator=generator, device=device)
        eps = torch.randn(batch.shape, generator=generator, device=device)
        a = self.alpha_bars.to(device)[t][:, None, None, None]
        loss = F.mse_loss(nets["unet"](a.sqrt() * batch + (1 - a).sqrt() * eps, t), eps)
        optimizers["unet"].zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(nets["unet"].parameters(), 1.0)
        optimizers["unet"].step()
        return {"loss": loss.item()}

    def noise_shape(self) -> tuple[int, ...]:
        return (3, self.image_size, self.image_size)

    @torch.no_grad()
    def sample(self, nets: Nets, noise: torch.Tensor | None, sources: torch.Tensor | None) -> torch.Tensor:
        """DDIM (eta = 0): ``sample_steps`` evenly spaced timesteps, deterministic given the noise."""
        assert noise is not None
        unet, x = nets["unet"], noise
        bars = self.alpha_bars.to(x.device)
        times = torch.linspace(self.timesteps - 1, 0, self.sample_steps).round().long().tolist()
        x0 = x
        for i, t in enumerate(times):
            a = bars[t]
            a_next = bars[times[i + 1]] if i + 1 < len(times) else torch.ones((), device=x.device)
            eps = unet(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1.0, 1.0)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x0


FAMILY = Ddpm
