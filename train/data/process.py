"""Identical processing of real and generated images: the one place that writes the training set.

Every image, whatever its class, goes through the same steps with the same random distributions:

1. decode to 8-bit RGB with the EXIF orientation applied (``train.data.imaging.open_rgb``: 16-bit
   scaled, alpha composited on black), building fresh pixels so no metadata survives;
2. with ``size``: a native crop of exactly ``size`` x ``size`` pixels at a uniformly random
   position, never resized, the same view a crops-view model gets in ``fakescope scan``
   (``fakescope_cli.view``); an image smaller than that is skipped and counted per class. Only
   when ``crop_scale`` is given: a random square whose side is that fraction of the shorter side,
   resized to ``size`` with Lanczos (a scene-level view for whole-image models; it erases
   single-pixel traces, and the report counts images it enlarged);
3. JPEG at a quality drawn uniformly from ``quality`` (inclusive), 4:2:0 chroma, no metadata.

Random draws come from the seed and the image's key (class, family, path), so the output does not
depend on the order of files. Real images from a crops manifest keep their photo-level split;
other images get a split from a seeded hash of their key; the ``holdout`` family goes only to
``test``. The output is ``DATA/<split>/real/...``, ``DATA/<split>/fake/<family>/...`` (the layout
``train.data.dataset`` reads) and ``DATA/manifest.csv`` (path,label,generator,source,split), built in a
folder beside ``DATA`` and renamed into place when complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakescope_cli.errors import DatasetError
from fakescope_cli.imageio import IMAGE_SUFFIXES
from train.data.dataset import MANIFEST_FIELDS, normalise_generator
from train.data.imaging import encode_jpeg, open_rgb, resize
from train.data.records import SPLITS
from train.data.splits import Ratios, hash_split
from train.io import atomic_write_bytes, building_folder

MANIFEST = "manifest.csv"
CHROMA = "4:2:0"
_REAL_COLUMNS = {"path", "photo_id", "source", "split"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Item:
    """One input image and where it goes."""

    path: Path
    label: str
    generator: str | None
    source: str  # the key: photo id or relative path, unique per class and family
    split: str


@dataclass
class ProcessReport:
    counts: dict[str, dict[str, int]]  # split -> "real" or "fake/<family>" -> images
    enlarged: dict[str, int] = field(default_factory=dict)  # label -> images enlarged by the crop/resize
    images: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # label -> images smaller than a native crop


def parse_quality(text: str) -> tuple[int, int]:
    """``"70:95"`` -> (70, 95); one number means a fixed quality."""
    try:
        parts = [int(part) for part in text.split(":")]
    except ValueError:
        raise DatasetError(f"--quality {text!r}: expected LO:HI like 70:95") from None
    low, high = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[-1])
    if len(parts) > 2 or not 1 <= low <= high <= 100:
        raise DatasetError(f"--quality {text!r}: expected LO:HI with 1 <= LO <= HI <= 100")
    return low, high


def parse_crop_scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise DatasetError(f"--crop-scale {text!r}: expected LO:HI like 0.6:1") from None
    if not 0 < low <= high <= 1:
        raise DatasetError(f"--crop-scale {text!r}: expected 0 < LO <= HI <= 1")
    return low, high


def _images_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def real_items(source: Path) -> list[Item]:
    """Reals from a crops manifest (a ``.csv``, or a folder holding ``manifest.csv``) or a folder."""
    manifest = source / MANIFEST if source.is_dir() else source
    if manifest.is_file():
        return _manifest_items(manifest)
    if source.is_dir():
        return [Item(p, "real", None, p.relative_to(source).as_posix(), "") for p in _images_under(source)]
    raise DatasetError(f"{source}: no such folder or manifest")


def _manifest_items(manifest: Path) -> list[Item]:
    items = []
    try:
        with manifest.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            unknown = [name for name in header if name not in _REAL_COLUMNS]
            if unknown or "path" not in header:
                raise DatasetError(
                    f"{manifest}: expected the columns path[,photo_id][,source][,split], "
                    f"got {', '.join(header)}"
                )
            for row in reader:
                where = f"{manifest}:{reader.line_num}"
                path = (manifest.parent / (row.get("path") or "").strip()).resolve()
                if not path.is_file():
                    raise DatasetError(f"{where}: no such image file {row.get('path')!r}")
                split = (row.get("split") or "").strip()
                if split and split not in SPLITS:
                    raise DatasetError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
                key = (row.get("photo_id") or row.get("source") or "").strip()
                source = f"{key}:{path.name}" if key else path.name
                items.append(Item(path, "real", None, source, split))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot read manifest ({exc})") from None
    if not items:
        raise DatasetError(f"{manifest}: no images listed")
    return items


def fake_items(families: Sequence[str]) -> list[Item]:
    """``FAMILY=DIR`` arguments -> the generated images below each folder."""
    items: list[Item] = []
    seen: set[str] = set()
    for argument in families:
        name, sep, folder = argument.partition("=")
        if not sep or not folder:
            raise DatasetError(f"--fake {argument!r}: expected FAMILY=DIR")
        family = normalise_generator(name, f"--fake {argument!r}", None)
        if family in seen:
            raise DatasetError(f"--fake: family {family!r} given twice")
        seen.add(family)
        root = Path(folder)
        images = _images_under(root)
        if not images:
            raise DatasetError(f"{root}: no images for family {family}")
        splits = _fake_splits(root / MANIFEST, images) if (root / MANIFEST).is_file() else {}
        for p in images:
            relative = p.relative_to(root).as_posix()
            items.append(Item(p, "fake", family, f"{family}/{relative}", splits.get(relative, "")))
    return items


def _fake_splits(manifest: Path, images: list[Path]) -> dict[str, str]:
    """A generated folder's ``manifest.csv`` (path,split): the split of every image in it, e.g. a
    re-synthesised photo's, which must follow its source photograph's split."""
    try:
        with manifest.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"path", "split"} <= set(reader.fieldnames or []):
                raise DatasetError(f"{manifest}: expected the columns path,split")
            splits = {}
            for row in reader:
                split = (row.get("split") or "").strip()
                if split not in SPLITS:
                    raise DatasetError(
                        f"{manifest}:{reader.line_num}: split {split!r} is not one of {', '.join(SPLITS)}"
                    )
                splits[(row.get("path") or "").strip()] = split
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot read manifest ({exc})") from None
    missing = [p.relative_to(manifest.parent).as_posix() for p in images]
    missing = [name for name in missing if name not in splits]
    if missing:
        raise DatasetError(f"{manifest}: no split for {missing[0]!r} ({len(missing)} images unlisted)")
    return splits


def assign_splits(items: list[Item], seed: int, ratios: Ratios, holdout: str | None) -> list[Item]:
    """Keep given splits; hash the rest; the holdout family goes to test only."""
    result = []
    for item in items:
        if item.generator is not None and item.generator == holdout:
            split = "test"
        else:
            split = item.split or hash_split(seed, f"{item.label}/{item.source}", ratios)
        result.append(Item(item.path, item.label, item.generator, item.source, split))
    return result


def _out_name(item: Item) -> str:
    stem = _UNSAFE.sub("_", item.path.stem)[:48] or "image"
    digest = hashlib.sha256(f"{item.label}/{item.source}".encode()).hexdigest()[:10]
    return f"{stem}-{digest}.jpg"


def process(
    items: Sequence[Item],
    out: Path,
    seed: int,
    quality: tuple[int, int],
    size: int | None = None,
    crop_scale: tuple[float, float] | None = None,
) -> ProcessReport:
    """Run every item through the same steps and write the dataset folder (atomically).
    ``crop_scale`` None: native crops of ``size``; else resized crops (see the module docstring)."""
    if not items:
        raise DatasetError("no images to process")
    if size is not None and size < 16:
        raise DatasetError("--size must be at least 16")
    seen: dict[Path, Item] = {}
    for item in items:
        if item.path in seen:
            raise DatasetError(f"{item.path}: given twice ({seen[item.path].label} and {item.label})")
        seen[item.path] = item
    report = ProcessReport(
        counts={s: {} for s in SPLITS}, enlarged={"real": 0, "fake": 0}, skipped={"real": 0, "fake": 0}
    )
    rows: list[tuple[str, ...]] = []
    with building_folder(out, MANIFEST) as staging:
        for item in sorted(items, key=lambda i: (i.label, i.generator or "", i.source)):
            done = _one(item, seed, quality, size, crop_scale, report)
            if done is None:
                continue
            relative, data = done
            atomic_write_bytes(staging / relative, data)
            rows.append((relative, item.label, item.generator or "", item.source, item.split))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(MANIFEST_FIELDS)
        writer.writerows(sorted(rows))
        atomic_write_bytes(staging / MANIFEST, buffer.getvalue().encode("utf-8"))
    if not rows:
        raise DatasetError(f"every image is smaller than the {size} px crop: nothing to write")
    report.images = len(rows)
    report.counts = {s: dict(sorted(report.counts[s].items())) for s in SPLITS}
    return report


def _one(
    item: Item,
    seed: int,
    quality: tuple[int, int],
    size: int | None,
    crop_scale: tuple[float, float] | None,
    report: ProcessReport,
) -> tuple[str, bytes] | None:
    """The processed bytes of one image and its path in the dataset (None: too small for a native
    crop); counts it in ``report``."""
    digest = hashlib.sha256(f"{seed}\x00{item.label}/{item.source}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    image = open_rgb(item.path)
    if size is not None and crop_scale is None:
        if image.width < size or image.height < size:
            report.skipped[item.label] += 1
            return None
        x = int(rng.integers(0, image.width - size + 1))
        y = int(rng.integers(0, image.height - size + 1))
        image = image.crop((x, y, x + size, y + size))
    elif size is not None and crop_scale is not None:
        side = max(1, round(min(image.size) * rng.uniform(*crop_scale)))
        x = int(rng.integers(0, image.width - side + 1))
        y = int(rng.integers(0, image.height - side + 1))
        report.enlarged[item.label] += side < size
        image = resize(image.crop((x, y, x + side, y + side)), size, size)
    data = encode_jpeg(image, int(rng.integers(quality[0], quality[1] + 1)), CHROMA)
    group = "real" if item.label == "real" else f"fake/{item.generator}"
    report.counts[item.split][group] = report.counts[item.split].get(group, 0) + 1
    return f"{item.split}/{group}/{_out_name(item)}", data
