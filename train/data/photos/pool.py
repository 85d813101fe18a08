"""A compact, deterministic pool of the fetched photographs: downscaled copies plus their sources.

Each photo is decoded to 8-bit RGB (orientation applied, metadata dropped), downscaled with
Lanczos so its longer side is at most ``max_side`` (never upscaled), and stored as baseline JPEG
at quality 95 with 4:4:4 chroma (no subsampling) as ``POOL/<package>__<name>.jpg``. When the
files together exceed the byte budget, the longer-side limit shrinks (by the square root of the
overshoot, then in 5 % steps) until they fit; ``POOL/sources.json`` records the limit used.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from fakescope_cli.errors import DatasetError
from train.data.imaging import encode_jpeg, fit_within, open_rgb
from train.data.photos.fetch import FetchedPhoto, read_fetched
from train.io import atomic_write_bytes, building_folder

POOL_QUALITY = 95
POOL_SUBSAMPLING = "4:4:4"
SOURCES_JSON = "sources.json"
MIN_SIDE = 256


@dataclass(frozen=True)
class PoolPhoto:
    """One photograph in the pool: its file, its size and everything about its origin."""

    id: str
    file: str  # relative to the pool folder
    width: int
    height: int
    package: str
    version: str
    path: str  # inside the package
    licence: str
    copyright: str
    author: str
    shows: str
    note: str
    original_sha256: str
    original_size: int
    sha256: str  # of the pool file
    size: int


@dataclass(frozen=True)
class PoolReport:
    photos: list[PoolPhoto]
    max_side: int  # the longer-side limit actually used
    total_bytes: int
    budget_bytes: int


def pool_name(photo_id: str) -> str:
    return photo_id.replace("/", "__") + ".jpg"


def build_pool(cache: Path, out: Path, max_side: int = 1024, budget_mb: float = 40.0) -> PoolReport:
    """Write the pool folder (atomically replaced) and return what went in."""
    if max_side < MIN_SIDE:
        raise DatasetError(f"--max-side must be at least {MIN_SIDE}")
    budget = int(budget_mb * 1024 * 1024)
    if budget <= 0:
        raise DatasetError("--budget-mb must be positive")
    fetched = read_fetched(cache)
    originals = [(photo, _checked(cache, photo)) for photo in fetched]
    side = max_side
    while True:  # decoded again on each pass: a few large originals at a time, not all in memory
        encoded = [(photo, _encode(open_rgb(path), side)) for photo, path in originals]
        total = sum(len(data) for _, (data, _) in encoded)
        if total <= budget:
            break
        smaller = min(int(side * 0.95), int(side * math.sqrt(budget / total)))
        if smaller < MIN_SIDE:
            raise DatasetError(
                f"{cache}: {len(fetched)} photos do not fit in {budget_mb} MB even at {side} px "
                f"({total / 2**20:.1f} MB); raise --budget-mb or list fewer photos"
            )
        side = smaller
    photos: list[PoolPhoto] = []
    with building_folder(out, SOURCES_JSON) as staging:
        for photo, (data, size) in encoded:
            name = pool_name(photo.id)
            atomic_write_bytes(staging / name, data)
            photos.append(_pool_photo(photo, name, size, data))
        meta = {
            "max_side": side,
            "requested_max_side": max_side,
            "jpeg_quality": POOL_QUALITY,
            "chroma_subsampling": POOL_SUBSAMPLING,
            "resampling": "Lanczos (Pillow, reducing_gap 3)",
            "total_bytes": total,
            "budget_bytes": budget,
            "photos": [asdict(p) for p in photos],
        }
        text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(staging / SOURCES_JSON, text.encode("utf-8"))
    return PoolReport(photos, side, total, budget)


def _checked(cache: Path, photo: FetchedPhoto) -> Path:
    path = cache / photo.file
    if not path.is_file():
        raise DatasetError(f"{path}: missing from the cache (photo {photo.id}); run photos-fetch again")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != photo.sha256:
        raise DatasetError(f"{path}: changed since it was fetched (SHA-256 differs); run photos-fetch again")
    return path


def _encode(image: Image.Image, side: int) -> tuple[bytes, tuple[int, int]]:
    small = fit_within(image, side)
    return encode_jpeg(small, POOL_QUALITY, POOL_SUBSAMPLING), small.size


def _pool_photo(photo: FetchedPhoto, name: str, size: tuple[int, int], data: bytes) -> PoolPhoto:
    return PoolPhoto(
        id=photo.id,
        file=name,
        width=size[0],
        height=size[1],
        package=photo.package,
        version=photo.version,
        path=photo.path,
        licence=photo.licence,
        copyright=photo.copyright,
        author=photo.author,
        shows=photo.shows,
        note=photo.note,
        original_sha256=photo.sha256,
        original_size=photo.size,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def read_pool(pool: Path) -> list[PoolPhoto]:
    """The photos of a pool folder, from its ``sources.json``."""
    path = pool / SOURCES_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        photos = [PoolPhoto(**row) for row in meta["photos"]]
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file (run photos-pool first)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a pool description ({type(exc).__name__}: {exc})") from None
    if not photos:
        raise DatasetError(f"{path}: no photos")
    return photos
