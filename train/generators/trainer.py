"""``train_family``: the training loop every family shares.

Reproducibility: initial weights come from ``torch.manual_seed(seed)`` on the CPU, batches and
flips from a CPU ``torch.Generator``, training noise from a generator on the device, all from
``seed``. On the CPU the same seed gives identical weights; CUDA runs are reproducible only up
to PyTorch's nondeterministic kernels (atomics in convolution backward passes and the like).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fakescope_cli.errors import ConfigError
from train.generators.data import load_photos
from train.generators.registry import family_spec, load_family
from train.generators.weights import CONFIG, FORMAT, WEIGHTS, save_weights

log = logging.getLogger(__name__)

EMA_DECAY = 0.999
CURVE_POINTS = 50
Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainSummary:
    """What a run did; ``losses`` holds every step's value per loss name."""

    family: str
    out_dir: Path
    weights_sha256: str
    steps: int
    batch_size: int
    seed: int
    device: str
    seconds: float
    photos: int
    losses: dict[str, list[float]] = field(repr=False)

    @property
    def weights(self) -> Path:
        return self.out_dir / WEIGHTS

    @property
    def config(self) -> Path:
        return self.out_dir / CONFIG

    def first_last(self, name: str) -> tuple[float, float]:
        """Mean of the first and of the last tenth of the steps (at least one step each)."""
        return _first_last(self.losses[name])


def _first_last(values: list[float]) -> tuple[float, float]:
    window = max(1, len(values) // 10)
    return sum(values[:window]) / window, sum(values[-window:]) / window


def loss_summary(losses: dict[str, list[float]]) -> dict[str, Any]:
    """First/last tenth means and a curve of at most ``CURVE_POINTS`` window means per loss."""
    summary: dict[str, Any] = {}
    for name, values in losses.items():
        first, last = _first_last(values)
        size = -(-len(values) // CURVE_POINTS)
        curve = [sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)]
        summary[name] = {"first": first, "last": last, "curve": [round(v, 6) for v in curve]}
    return summary


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for an absent CUDA is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device}: choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available to PyTorch here")
    return torch.device(device)


def _batch(data: torch.Tensor, size: int, picker: torch.Generator) -> torch.Tensor:
    """``size`` random crops (with replacement), half of them mirrored, as floats in [-1, 1]."""
    index = torch.randint(0, data.shape[0], (size,), generator=picker)
    flip = (torch.rand(size, generator=picker) < 0.5).to(data.device)
    batch = data[index.to(data.device)].permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return torch.where(flip[:, None, None, None], batch.flip(3), batch)


def train_family(
    family: str,
    photos_dir: Path,
    out_dir: Path,
    *,
    image_size: int,
    steps: int,
    batch_size: int,
    seed: int,
    device: str = "auto",
    width: int | None = None,
    progress: Progress | None = None,
) -> TrainSummary:
    """Train ``family`` on the crops in ``photos_dir``; write weights and config to ``out_dir``."""
    spec = family_spec(family)
    cls = load_family(family)
    params = cls.make_params(image_size, spec.default_width if width is None else width)
    if steps < 1 or batch_size < 1:
        raise ConfigError(f"--steps {steps} / --batch-size {batch_size}: both must be positive")
    target = resolve_device(device)
    photos = load_photos(photos_dir, image_size)
    if photos.resized:
        log.warning(
            "%s: %d crops were not %dx%d and were resized", photos_dir, photos.resized, image_size, image_size
        )

    started = time.perf_counter()
    torch.manual_seed(seed)
    model = cls(params)
    nets = model.build()
    for net in nets.values():
        net.to(target).train()
    averages = {name: copy.deepcopy(nets[name]).eval().requires_grad_(False) for name in model.averaged}
    optimizers = model.optimizers(nets)
    data = torch.from_numpy(photos.pixels).to(target)
    picker = torch.Generator().manual_seed(seed)
    noise = torch.Generator(device=target).manual_seed(seed + 1)
    losses: dict[str, list[float]] = {}
    for step in range(steps):
        values = model.train_step(nets, optimizers, _batch(data, batch_size, picker), noise)
        for name, value in values.items():
            losses.setdefault(name, []).append(value)
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        with torch.no_grad():
            for name, average in averages.items():
                for kept, live in zip(average.parameters(), nets[name].parameters(), strict=True):
                    kept.lerp_(live, 1.0 - decay)
        if progress is not None:
            progress(step + 1, steps, values)
    seconds = time.perf_counter() - started

    tensors = {
        f"{name}.{key}": value
        for name in model.saved
        for key, value in averages.get(name, nets[name]).state_dict().items()
    }
    config = {
        "format": FORMAT,
        "family": family,
        "params": params,
        "image_size": image_size,
        "width": params["width"],
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "device": target.type,
        "torch": torch.__version__,
        "seconds": round(seconds, 3),
        "photos": {
            "folder": str(photos_dir.resolve()),
            "count": len(photos.names),
            "digest_sha256": photos.digest,
            "resized": photos.resized,
        },
        "losses": loss_summary(losses),
    }
    sha = save_weights(out_dir, tensors, config)
    return TrainSummary(
        family, out_dir, sha, steps, batch_size, seed, target.type, seconds, len(photos.names), losses
    )
