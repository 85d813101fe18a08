"""Random square crops of the pool's photographs, split by source photo.

Each crop is made in two steps, so that a small crop still shows a scene rather than a patch of
texture: the photo is first downscaled (Lanczos) so its shorter side becomes ``size * r``, with
``r`` drawn log-uniformly from ``SCALE_RANGE`` (1 to 3: the crop spans between a third and all of
the shorter side; a photo is never upscaled), then a ``size`` x ``size`` window is taken at a
uniformly random position. Crops are PNG (lossless: ``process`` does the one JPEG encoding).

The split is drawn per photo (``train.data.splits.group_splits``): all crops of one photo share it,
so near-duplicate crops never sit on both sides of a split. Every random draw comes from the
seed, the photo id and the crop index, so the output is the same on every run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakescope_cli.errors import DatasetError
from train.data.imaging import encode_png, open_rgb, resize
from train.data.photos.pool import read_pool
from train.data.splits import Ratios, group_splits
from train.io import atomic_write_bytes, building_folder

SCALE_RANGE = (1.0, 3.0)
MANIFEST = "manifest.csv"
CROP_FIELDS = ("path", "photo_id", "split")


@dataclass(frozen=True)
class CropReport:
    crops: int
    photos: int
    per_split: dict[str, int]  # split -> crops
    photos_per_split: dict[str, int]  # split -> source photos


def _rng(seed: int, photo_id: str, index: int) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(photo_id.encode()).digest()[:8], "big")
    return np.random.default_rng([seed, key, index])


def make_crops(
    pool: Path,
    out: Path,
    size: int,
    per_photo: int,
    seed: int,
    ratios: Ratios,
    scale_range: tuple[float, float] = SCALE_RANGE,
) -> CropReport:
    """Write ``per_photo`` crops of every pool photo and ``OUT/manifest.csv``; return the counts."""
    if size < 16:
        raise DatasetError("--size must be at least 16")
    if per_photo < 1:
        raise DatasetError("--per-photo must be at least 1")
    photos = read_pool(pool)
    splits = group_splits(seed, [p.id for p in photos], ratios)
    rows: list[tuple[str, str, str]] = []
    with building_folder(out, MANIFEST) as staging:
        for photo in sorted(photos, key=lambda p: p.id):
            split = splits[photo.id]
            rows += _photo_crops(
                pool / photo.file, photo.id, split, staging, size, per_photo, seed, scale_range
            )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CROP_FIELDS)
        writer.writerows(rows)
        atomic_write_bytes(staging / MANIFEST, buffer.getvalue().encode("utf-8"))
    per_split = Counter(split for _, _, split in rows)
    photo_split = Counter(splits.values())
    return CropReport(
        len(rows),
        len(photos),
        {s: per_split[s] for s in ("train", "val", "test")},
        {s: photo_split[s] for s in ("train", "val", "test")},
    )


def _photo_crops(
    path: Path,
    photo_id: str,
    split: str,
    folder: Path,
    size: int,
    per_photo: int,
    seed: int,
    scale_range: tuple[float, float],
) -> list[tuple[str, str, str]]:
    """Write the crops of one photo into ``folder``; their manifest rows."""
    image = open_rgb(path)
    short = min(image.size)
    if short < size:
        raise DatasetError(f"{path}: shorter side {short} px is below the crop size {size}")
    rows = []
    for index in range(per_photo):
        rng = _rng(seed, photo_id, index)
        ratio = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
        scale = min(1.0, size * ratio / short)
        width = max(size, round(image.width * scale))
        height = max(size, round(image.height * scale))
        scaled = resize(image, width, height)
        x = int(rng.integers(0, width - size + 1))
        y = int(rng.integers(0, height - size + 1))
        name = f"{photo_id.replace('/', '__')}-{index:03d}.png"
        atomic_write_bytes(folder / name, encode_png(scaled.crop((x, y, x + size, y + size))))
        rows.append((name, photo_id, split))
    return rows
