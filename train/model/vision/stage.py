"""``python -m train vision-train``: the vision tower learns real/fake on native tiles first.

The Idefics3 vision tower of a checkpoint (``mini-init``'s) gets a mean-pooled linear head and is
trained as a plain classifier on native tiles of processed crops: a 128 px crop is 2 x 2 tiles of
64 px at fixed positions (what libmtmd cuts), one drawn per sample, flipped left-right at random.
A crop's score is the mean logit of its tiles. In training a tile is cut at any offset in the
crop (so the JPEG block grid falls anywhere under the patch grid), batches are half real, half
generated, and gradients are clipped; the recipe the decision experiment measured. This is cheap
next to instruction tuning (no language model in the loop), so the tower arrives at ``sft``
already seeing traces.

Bounded and resumable: the number of steps is fixed from the throughput measured on the first
steps and the time budget, and stored; the state (weights, optimiser, sampler, curve) is saved
every few minutes, so a run cut off continues where it stopped with the same schedule. The patch
embedding starts as a whitened DCT bank (``train.model.vision.dct``) and is frozen at first.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fakescope_cli.errors import ConfigError
from train.io import atomic_write_bytes
from train.model.vision.crops import CropSet, load_crops
from train.model.vision.dct import whiten_patch_embedding
from train.run.metrics import detection_metrics

STATE = "state.pt"
STOP = "STOP"  # a file of this name in the stage folder ends the run early (evaluated, saved, resumable)
RECORD = "record.json"
VISION = "vision.safetensors"
VISION_PREFIX = "model.vision_model."
CALIBRATION_STEPS = 20
BLUR_SIGMA = (0.3, 1.5)  # pixels


@dataclass(frozen=True)
class StageConfig:
    minutes: float = 45.0
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    freeze_embedding_fraction: float = 0.2
    checkpoint_minutes: float = 3.0
    evaluate_every: int = 300
    threads: int = 2
    seed: int = 0
    val_fraction: float = 0.1
    exclude_packages: tuple[str, ...] = ()
    # An earlier stage's vision.safetensors (tower and head) to continue from: no DCT start, and
    # the patch embedding, trained already, is not frozen.
    init_from: str | None = None
    # Share of tiles, of either class alike, blurred (Gaussian, sigma drawn from BLUR_SIGMA) before
    # they are seen: a camera-original photograph is softer per pixel than a downscaled one.
    blur: float = 0.0
    # A fixed number of steps instead of ``minutes`` (0: planned from the first steps' speed), so a
    # recipe can be compared at equal steps on a machine of another speed.
    steps: int = 0


class TileClassifier(nn.Module):
    """The vision tower, mean-pooled, into one logit (positive: generated)."""

    def __init__(self, vision: Any, hidden: int) -> None:
        super().__init__()
        self.vision: Any = vision
        self.head = nn.Linear(hidden, 1)

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        hidden = self.vision(pixel_values=tiles).last_hidden_state
        return self.head(hidden.mean(1)).squeeze(1)


def load_stage_weights(model: TileClassifier, path: Path) -> None:
    """An earlier stage's tower and head (any float type) into ``model``; every tensor must fit."""
    from safetensors.torch import load_file

    from fakescope_cli.errors import ConfigError

    try:
        weights = load_file(str(path))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{path}: cannot read the stage's weights ({exc})") from None
    tower = {k[len(VISION_PREFIX) :]: v for k, v in weights.items() if k.startswith(VISION_PREFIX)}
    head = {k[len("head.") :]: v for k, v in weights.items() if k.startswith("head.")}
    for part, values in ((model.vision, tower), (model.head, head)):
        own = part.state_dict()
        if set(values) != set(own) or any(values[k].shape != own[k].shape for k in own):
            raise ConfigError(f"{path}: its tower or head does not match this checkpoint's shape")
        part.load_state_dict({k: v.to(own[k].dtype) for k, v in values.items()})


def _vision_tower(checkpoint: Path) -> tuple[Any, int, int, tuple[list[float], list[float]]]:
    """(vision transformer, hidden size, tile size, (mean, std)) of an Idefics3 checkpoint."""
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    config: Any = Idefics3Config.from_pretrained(checkpoint)
    model = Idefics3ForConditionalGeneration.from_pretrained(checkpoint, dtype=torch.float32)
    vision = model.model.vision_model
    processor = json.loads((checkpoint / "processor_config.json").read_text()).get("image_processor", {})
    norm = (processor.get("image_mean", [0.5] * 3), processor.get("image_std", [0.5] * 3))
    del model
    return vision, int(config.vision_config.hidden_size), int(config.vision_config.image_size), norm


def tiles_of(pixels: np.ndarray, tile: int) -> np.ndarray:
    """The crops' native tiles at libmtmd's positions, (N, k, tile, tile, 3)."""
    n, size = pixels.shape[0], pixels.shape[1]
    if size % tile:
        raise ConfigError(f"crops of {size} px do not cut into {tile} px tiles")
    k = size // tile
    grid = pixels.reshape(n, k, tile, k, tile, 3).transpose(0, 1, 3, 2, 4, 5)
    return grid.reshape(n, k * k, tile, tile, 3)


def random_tiles(pixels: np.ndarray, index: np.ndarray, tile: int, rng: np.random.Generator) -> np.ndarray:
    """One tile of each chosen crop at a uniformly drawn offset, flipped left-right half the time."""
    size = pixels.shape[1]
    ys, xs = rng.integers(0, size - tile + 1, len(index)), rng.integers(0, size - tile + 1, len(index))
    flips = rng.random(len(index)) < 0.5
    out = np.empty((len(index), tile, tile, 3), dtype=np.uint8)
    for n, (i, y, x, flip) in enumerate(zip(index, ys, xs, flips, strict=True)):
        part = pixels[i, y : y + tile, x : x + tile]
        out[n] = part[:, ::-1] if flip else part
    return out


def blurred(tiles: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``tiles`` with about ``share`` of them Gaussian-blurred (each its own sigma); the rest kept."""
    if share <= 0:
        return tiles
    from PIL import Image, ImageFilter

    out = tiles.copy()
    chosen = np.flatnonzero(rng.random(len(tiles)) < share)
    sigmas = rng.uniform(*BLUR_SIGMA, len(chosen))
    for i, sigma in zip(chosen, sigmas, strict=True):
        out[i] = np.asarray(Image.fromarray(tiles[i]).filter(ImageFilter.GaussianBlur(float(sigma))))
    return out


class Normaliser:
    def __init__(self, mean: list[float], std: list[float]) -> None:
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __call__(self, tiles: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(tiles)).permute(0, 3, 1, 2).float() / 255.0
        return (x - self.mean) / self.std


@torch.no_grad()
def crop_logits(
    model: TileClassifier, tiles: np.ndarray, normalise: Normaliser, batch: int = 64
) -> np.ndarray:
    """Mean tile logit of each crop."""
    model.eval()
    n, k = tiles.shape[:2]
    flat = tiles.reshape(n * k, *tiles.shape[2:])
    out = [model(normalise(flat[i : i + batch])).numpy() for i in range(0, len(flat), batch)]
    model.train()
    return np.concatenate(out).reshape(n, k).mean(1)


def _metrics(crops: CropSet, logits: np.ndarray) -> dict[str, Any]:
    probs = 1 / (1 + np.exp(-logits))
    labels = crops.labels.tolist()
    overall = detection_metrics(labels, probs.tolist()).to_dict()
    reals = [i for i, y in enumerate(labels) if y == 0]
    per_family = {}
    for family in sorted({f for f, y in zip(crops.families, labels, strict=True) if y == 1}):
        chosen = reals + [i for i, f in enumerate(crops.families) if f == family and labels[i] == 1]
        per_family[family] = detection_metrics(
            [labels[i] for i in chosen], [float(probs[i]) for i in chosen]
        ).roc_auc
    return {"overall": overall, "roc_auc_per_family": per_family}


def _lr(step: int, total: int, config: StageConfig) -> float:
    warm = config.warmup_steps
    if warm > 0 and (step < warm or total == 0):
        return config.learning_rate * min(step + 1, warm) / warm
    if total == 0:
        return config.learning_rate
    progress = (step - warm) / max(1, total - warm)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train_vision(
    checkpoint: Path, manifest: Path, out: Path, config: StageConfig, log=print
) -> dict[str, Any]:
    """Train (or resume) the stage into ``out``; returns the record written to ``out/record.json``."""
    torch.set_num_threads(config.threads)
    out.mkdir(parents=True, exist_ok=True)
    data = load_crops(manifest, frozenset(config.exclude_packages), config.val_fraction, config.seed)
    vision, hidden, tile, norm = _vision_tower(checkpoint)
    normalise = Normaliser(*norm)
    tiles = {split: tiles_of(crops.pixels, tile) for split, crops in data.items()}
    model = TileClassifier(vision, hidden)
    torch.manual_seed(config.seed)
    state_path = out / STATE
    state: dict[str, Any] | None = torch.load(state_path, weights_only=False) if state_path.exists() else None
    curve: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    if state is None and config.init_from is not None:
        load_stage_weights(model, Path(config.init_from))
        log(f"vision-train: tower and head from {config.init_from}")
        rng = np.random.default_rng(config.seed)
        step, total, curve, evaluations, seconds = 0, 0, [], [], 0.0
    elif state is None:
        rng = np.random.default_rng(config.seed)
        sample = tiles["train"][
            rng.choice(len(data["train"]), size=min(512, len(data["train"])), replace=False), 0
        ]
        n_dct = whiten_patch_embedding(
            model.vision.embeddings.patch_embedding, normalise(sample), config.seed
        )
        log(f"vision-train: patch embedding = whitened DCT bank ({n_dct} filters)")
        step, total, curve, evaluations, seconds = 0, 0, [], [], 0.0
    else:
        model.load_state_dict(state["model"])
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, total, curve, evaluations, seconds = (
            state["step"],
            state["total"],
            state["curve"],
            state["evaluations"],
            state["seconds"],
        )
        log(f"vision-train: resuming at step {step} of {total}")
    if state is None and config.steps > 0:
        total = config.steps
        log(f"vision-train: {total} steps")
    # What the run started from decides the embedding's freeze, also when it is resumed with other flags.
    started_from = state["config"].get("init_from") if state is not None else config.init_from
    if state is not None and started_from != config.init_from:
        log(
            f"vision-train: this run started from {started_from or 'the DCT bank'}; "
            "--init-from is ignored on resume"
        )
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    if state is not None:
        optimiser.load_state_dict(state["optimiser"])
    train_pixels, train_labels = data["train"].pixels, data["train"].labels
    by_class = [np.flatnonzero(train_labels == 0), np.flatnonzero(train_labels == 1)]
    embedding = model.vision.embeddings.patch_embedding
    loss_fn = nn.BCEWithLogitsLoss()
    last_save = time.monotonic()
    running: list[float] = []

    def save() -> None:
        payload = {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "total": total,
            "curve": curve,
            "evaluations": evaluations,
            "seconds": seconds,
            "config": asdict(config),
        }
        partial = state_path.with_suffix(".partial")
        torch.save(payload, partial)
        partial.replace(state_path)

    def evaluate() -> None:
        metrics = _metrics(data["val"], crop_logits(model, tiles["val"], normalise))
        evaluations.append({"step": step, "seconds": round(seconds, 1), "val": metrics})
        log(f"vision-train: step {step}/{total}  val AUC {metrics['overall']['roc_auc']:.4f}")

    model.train()
    stopped = False
    while total == 0 or step < total:
        if total and (out / STOP).exists():
            log(f"vision-train: {out / STOP} found: stopping at step {step} of {total} (resumable)")
            stopped = True
            break
        started = time.perf_counter()
        frozen = started_from is None and (total == 0 or step < total * config.freeze_embedding_fraction)
        for p in embedding.parameters():
            p.requires_grad_(not frozen)
        half = config.batch_size // 2
        index = np.concatenate(
            [rng.choice(by_class[0], half), rng.choice(by_class[1], config.batch_size - half)]
        )
        batch = blurred(random_tiles(train_pixels, index, tile, rng), config.blur, rng)
        for group in optimiser.param_groups:
            group["lr"] = _lr(step, total, config)
        loss = loss_fn(model(normalise(batch)), torch.from_numpy(train_labels[index]).float())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        seconds += time.perf_counter() - started
        running.append(float(loss.detach()))
        if len(running) == 25:
            curve.append(
                {"step": step, "seconds": round(seconds, 1), "loss": round(float(np.mean(running)), 4)}
            )
            running = []
        if total == 0 and step == CALIBRATION_STEPS:
            per_step = seconds / step
            total = max(step + 1, int(config.minutes * 60 / per_step))
            log(f"vision-train: {per_step:.3f} s a step -> {total} steps in {config.minutes:g} minutes")
        if total and step % config.evaluate_every == 0:
            evaluate()
        if time.monotonic() - last_save > config.checkpoint_minutes * 60:
            save()
            last_save = time.monotonic()
    evaluate()
    save()
    run = {
        "steps": step,
        "planned_steps": total,
        "stopped_early": stopped,
        "train_seconds": round(seconds, 1),
    }
    return _finish(model, data, tiles, normalise, out, config, checkpoint, manifest, run, curve, evaluations)


def _finish(model, data, tiles, normalise, out, config, checkpoint, manifest, run, curve, evaluations):
    from safetensors.torch import save_file

    weights = {VISION_PREFIX + k: v.contiguous() for k, v in model.vision.state_dict().items()}
    weights.update({"head." + k: v.contiguous() for k, v in model.head.state_dict().items()})
    partial = out / (VISION + ".partial")
    save_file(weights, str(partial))
    partial.replace(out / VISION)
    record = {
        "stage": "vision-train",
        "checkpoint": str(checkpoint),
        "manifest": str(manifest),
        "config": asdict(config),
        "crops": {
            s: {"n": len(c), "fake": int(c.labels.sum()), "photos": len(set(c.photos))}
            for s, c in data.items()
        },
        **run,
        "tiles_seen": run["steps"] * config.batch_size,
        "curve": curve,
        "evaluations": evaluations,
        "test": _metrics(data["test"], crop_logits(model, tiles["test"], normalise)),
        "torch_threads": torch.get_num_threads(),
    }
    atomic_write_bytes(out / RECORD, (json.dumps(record, indent=1) + "\n").encode())
    return record
