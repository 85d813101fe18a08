"""``generate``: sample a trained family into PNG files, resumably and reproducibly.

Image ``i`` starts from noise drawn by its own CPU generator seeded from (seed, i), and images
are always computed in the same fixed chunks of ``CHUNK`` indices, so a file's bytes do not
depend on ``count``, on which files a re-run skips, or on the device's random generator. On the
CPU the same seed gives byte-identical PNGs; CUDA runs are reproducible only up to PyTorch's
nondeterministic kernels. ae-resynth re-synthesises the crops in ``source_dir`` in file order
(image ``i`` from crop ``i``): that folder must be disjoint from the detector's real class.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fakescope_cli.errors import ConfigError, DatasetError
from train.generators.data import load_photos
from train.generators.trainer import resolve_device
from train.generators.weights import load_weights
from train.io import atomic_write_text

CHUNK = 32
MANIFEST = "generation.json"
IDENTITY = ("family", "weights_sha256", "seed", "image_size", "source_digest_sha256")


@dataclass(frozen=True)
class GenerationSummary:
    """What a ``generate`` call produced; ``written`` + ``skipped`` == ``count``."""

    family: str
    out_dir: Path
    files: list[Path]
    written: int
    skipped: int
    seed: int
    image_size: int
    device: str
    seconds: float
    weights_sha256: str

    @property
    def count(self) -> int:
        return len(self.files)


def image_name(family: str, seed: int, index: int) -> str:
    return f"{family}-s{seed}-{index:05d}.png"


def index_seed(seed: int, index: int) -> int:
    """A 63-bit seed for image ``index`` of run ``seed`` (distinct pairs do not collide in practice)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big") >> 1


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1] -> uint8 (N, S, S, 3)."""
    scaled = ((images.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Plain 8-bit RGB PNG (no metadata), written to a temporary name and renamed."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            Image.fromarray(pixels).save(stream, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_previous(manifest: Path, record: dict[str, Any]) -> None:
    """A folder holds one generation: other weights, seed or sources there are an error."""
    if not manifest.exists():
        return
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{manifest}: cannot read ({exc}); remove it or use another folder") from None
    changed = [key for key in IDENTITY if not isinstance(previous, dict) or previous.get(key) != record[key]]
    if changed:
        raise ConfigError(
            f"{manifest}: this folder holds a generation with another {', '.join(changed)}; "
            "use another --out folder"
        )


def generate(
    weights_dir: Path,
    count: int,
    out_dir: Path,
    *,
    seed: int,
    device: str = "auto",
    source_dir: Path | None = None,
) -> GenerationSummary:
    """Write ``count`` PNGs ``<family>-s<seed>-<index:05d>.png`` and ``generation.json`` to ``out_dir``."""
    if count < 1:
        raise ConfigError(f"--count {count}: must be positive")
    target = resolve_device(device)
    loaded = load_weights(weights_dir, target)
    family, name = loaded.family, str(loaded.config["family"])
    shape = family.noise_shape()
    sources: np.ndarray | None = None
    record: dict[str, Any] = {
        "family": name,
        "weights": str(weights_dir.resolve()),
        "weights_sha256": loaded.sha256,
        "seed": seed,
        "count": count,
        "image_size": family.image_size,
        "device": target.type,
        "source_digest_sha256": None,
    }
    if shape is None:
        if source_dir is None:
            raise ConfigError(
                f"{name} re-synthesises real crops: give --source DIR (disjoint from the real class)"
            )
        photos = load_photos(source_dir, family.image_size)
        if count > len(photos.names):
            raise ConfigError(f"{source_dir}: {len(photos.names)} crops, fewer than --count {count}")
        sources = photos.pixels
        record |= {"source": str(source_dir.resolve()), "source_digest_sha256": photos.digest}
        record["sources"] = photos.names[:count]
    elif source_dir is not None:
        raise ConfigError(f"{name} samples from noise: --source is only for families that re-synthesise")

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    _check_previous(manifest, record)
    atomic_write_text(manifest, json.dumps({**record, "complete": False}, indent=2) + "\n")
    started = time.perf_counter()
    files = [out_dir / image_name(name, seed, index) for index in range(count)]
    written = 0
    for start in range(0, count, CHUNK):
        if all(path.exists() for path in files[start : start + CHUNK]):
            continue
        if sources is None:
            assert shape is not None
            noise = torch.stack(
                [
                    torch.randn(shape, generator=torch.Generator().manual_seed(index_seed(seed, index)))
                    for index in range(start, start + CHUNK)
                ]
            )
            images = family.sample(loaded.nets, noise.to(target), None)
        else:
            batch = torch.from_numpy(sources[start : start + CHUNK]).to(target)
            images = family.sample(loaded.nets, None, batch.permute(0, 3, 1, 2).float() / 127.5 - 1.0)
        for path, pixels in zip(files[start : start + CHUNK], to_pixels(images), strict=False):
            if not path.exists():
                write_png(path, pixels)
                written += 1
    seconds = time.perf_counter() - started
    atomic_write_text(
        manifest,
        json.dumps({**record, "complete": True, "seconds": round(seconds, 3), "written": written}, indent=2)
        + "\n",
    )
    return GenerationSummary(
        name,
        out_dir,
        files,
        written,
        count - written,
        seed,
        family.image_size,
        target.type,
        seconds,
        loaded.sha256,
    )
