"""The cheap own generator family: a tiny convolutional autoencoder (latent 12 x 1/4 x 1/4),
trained briefly on 64 px patches of TRAIN photos, used to re-synthesise real regions."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from train.experiments.decision.common import say


class TinyAE(nn.Module):
    def __init__(self, latent: int = 12) -> None:
        super().__init__()
        g = nn.GELU
        self.enc = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            g(),
            nn.Conv2d(32, 48, 4, stride=2, padding=1),
            g(),
            nn.Conv2d(48, 64, 4, stride=2, padding=1),
            g(),
            nn.Conv2d(64, latent, 1),
        )
        self.dec = nn.Sequential(
            nn.Conv2d(latent, 64, 3, padding=1),
            g(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(64, 48, 3, padding=1),
            g(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(48, 32, 3, padding=1),
            g(),
            nn.Conv2d(32, 3, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dec(self.enc(x))


def _loss(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    l1 = (out - x).abs().mean()
    gx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    gy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return l1 + (gx(out) - gx(x)).abs().mean() + (gy(out) - gy(x)).abs().mean()


def train_ae(
    patches: np.ndarray, seconds: float, seed: int = 0, batch: int = 16, steps: int = 0
) -> tuple[TinyAE, dict]:
    """patches: (N, 64, 64, 3) uint8 from training photos only. With ``steps`` the run is that many
    steps (the same weights on any machine); without, it is ``seconds`` long (as many steps as the
    machine manages: the first CPU run's 180 s were 707 steps there, 638 on another)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TinyAE()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    data = torch.from_numpy(patches).permute(0, 3, 1, 2).contiguous()
    curve, t0, step = [], time.time(), 0
    while True:
        frac = step / steps if steps else (time.time() - t0) / seconds
        if frac >= 1:
            break
        lr = 2e-3 * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = rng.integers(0, len(data), batch)
        x = data[idx].float() / 255.0
        if rng.random() < 0.5:
            x = x.flip(3)
        loss = _loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        step += 1
    info = {
        "steps": step,
        "batch": batch,
        "seconds": round(time.time() - t0, 1),
        "loss_first50": float(np.mean(curve[:50])),
        "loss_last50": float(np.mean(curve[-50:])),
        "params": sum(p.numel() for p in model.parameters()),
    }
    return model.eval(), info


@torch.no_grad()
def resynth(model: TinyAE, region: np.ndarray) -> np.ndarray:
    """region: (H, W, 3) uint8 (H, W multiples of 4) -> same size uint8."""
    x = torch.from_numpy(region).permute(2, 0, 1)[None].float() / 255.0
    y = model(x)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return np.round(y * 255.0).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0**2 / max(mse, 1e-10))


def lap_energy(a: np.ndarray) -> float:
    g = a.astype(np.float64).mean(axis=2)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(np.abs(lap).mean())


if __name__ == "__main__":  # a quick self-check
    m = TinyAE()
    say(sum(p.numel() for p in m.parameters()), m(torch.zeros(1, 3, 64, 64)).shape)
