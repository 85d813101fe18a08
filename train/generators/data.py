"""Real photo crops for training (and, for ae-resynth, for re-synthesis).

The crops should already be ``image_size`` squares: anything else is centre-cropped to a square
and resized with Lanczos here, and that resampling is itself a trace. Prepare real and source
crops with the same tool that prepares the real class of the detector data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fakescope_cli.errors import DatasetError

SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass(frozen=True)
class PhotoSet:
    """Crops as uint8 (N, S, S, 3), their paths relative to the folder, and the folder digest."""

    pixels: np.ndarray
    names: list[str]
    digest: str
    resized: int


def photo_files(folder: Path) -> list[Path]:
    """PNG/JPEG files below ``folder`` in a fixed order; hidden files and folders are skipped."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder of photos")
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not files:
        raise DatasetError(f"{folder}: no PNG or JPEG photos in this folder")
    return files


def square_crop(image: Image.Image, size: int) -> tuple[Image.Image, bool]:
    """Centre square crop resized to ``size`` (untouched when it already is one); True if changed."""
    if image.size == (size, size):
        return image, False
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return square.resize((size, size), Image.Resampling.LANCZOS), True


def load_photos(folder: Path, image_size: int) -> PhotoSet:
    """Every crop below ``folder`` as ``image_size`` RGB; an unreadable file is an error naming it."""
    files = photo_files(folder)
    digest = hashlib.sha256()
    arrays, resized = [], 0
    for path in files:
        name = path.relative_to(folder).as_posix()
        try:
            data = path.read_bytes()
            with Image.open(path) as opened:
                rgb = opened.convert("RGB")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise DatasetError(f"{path}: cannot read as an image ({exc})") from None
        crop, changed = square_crop(rgb, image_size)
        resized += changed
        arrays.append(np.asarray(crop, dtype=np.uint8))
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return PhotoSet(
        np.stack(arrays), [p.relative_to(folder).as_posix() for p in files], digest.hexdigest(), resized
    )
