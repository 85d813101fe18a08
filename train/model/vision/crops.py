"""Processed native crops for the vision stage: read once into memory, split by photograph.

The manifest is a CSV with ``path`` (relative to its folder), ``label`` (``real``/``fake`` or
0/1), ``split``, and where present ``family``, ``photo_id`` and ``package``. A validation split is
carved out of the training photographs by a seeded hash of the photo id, so no photograph sits on
both sides; whole packages can be left out (the held-out packages of the false-positive figure).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope_cli.errors import DatasetError


@dataclass
class CropSet:
    pixels: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) 1 = fake
    families: list[str]
    photos: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def _label(value: str, where: str) -> int:
    value = value.strip().lower()
    if value in ("1", "fake"):
        return 1
    if value in ("0", "real"):
        return 0
    raise DatasetError(f"{where}: label {value!r} is not real/fake or 0/1")


def val_photo(photo: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:val:{photo}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def load_crops(
    manifest: Path,
    exclude_packages: frozenset[str] = frozenset(),
    val_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, CropSet]:
    """``train``, ``val`` (from training photos) and ``test`` sets of the manifest's crops."""
    try:
        rows = list(csv.DictReader(manifest.open(newline="", encoding="utf-8")))
    except OSError as exc:
        raise DatasetError(f"{manifest}: cannot read ({exc.strerror or exc})") from None
    missing = {"path", "label", "split"} - set(rows[0] if rows else {})
    if missing:
        raise DatasetError(f"{manifest}: no column {sorted(missing)[0]!r}")
    groups: dict[str, list[tuple[np.ndarray, int, str, str]]] = {"train": [], "val": [], "test": []}
    size = None
    for n, row in enumerate(rows, start=2):
        if row.get("package", "") in exclude_packages:
            continue
        where = f"{manifest}:{n}"
        photo = row.get("photo_id") or row["path"]
        split = row["split"]
        if split == "train" and val_photo(photo, seed, val_fraction):
            split = "val"
        if split not in groups:
            continue
        with Image.open(manifest.parent / row["path"]) as image:
            pixels = np.asarray(image.convert("RGB"))
        if size is None:
            size = pixels.shape
        if pixels.shape != size or pixels.shape[0] != pixels.shape[1]:
            raise DatasetError(
                f"{where}: crop {pixels.shape[1]}x{pixels.shape[0]}, expected {size[1]}x{size[0]}"
            )
        groups[split].append((pixels, _label(row["label"], where), row.get("family") or "", photo))
    out = {}
    for split, items in groups.items():
        if not items:
            raise DatasetError(f"{manifest}: no crops in split {split!r}")
        out[split] = CropSet(
            np.stack([i[0] for i in items]),
            np.array([i[1] for i in items], dtype=np.int64),
            [i[2] for i in items],
            [i[3] for i in items],
        )
    return out
