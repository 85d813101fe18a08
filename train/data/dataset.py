"""Load a labelled image set: a folder layout or a CSV / JSONL manifest, into ImageRecords.

Folder layout (generator folder names are the generator families)::

    DATA/real/...                      DATA/train/real/...            DATA/real/train/...
    DATA/fake/<generator>/...    or    DATA/train/fake/<gen>/...  or  DATA/fake/<gen>/test/...

With no split folders, each image gets a deterministic split from a hash of its path relative to
DATA (80 % train, 10 % val, 10 % test). Manifests have the columns / keys ``path``, ``label``,
``generator``, ``source``, ``split`` (only ``path`` and ``label`` required); relative paths are
resolved against the manifest's folder. Every problem raises DatasetError naming the file (and
line) and what is wrong.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from fakescope_cli.errors import DatasetError
from fakescope_cli.imageio import IMAGE_SUFFIXES
from train.data.records import LABELS, SPLITS, ImageRecord

MANIFEST_FIELDS = ("path", "label", "generator", "source", "split")
_GENERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
_RESERVED = {*LABELS, *SPLITS}


def hash_split(key: str) -> str:
    """The split an image without one gets: 80/10/10 from a hash of ``key`` (stable across runs)."""
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % 100
    return "train" if bucket < 80 else "val" if bucket < 90 else "test"


def normalise_generator(name: str, where: str, allowed: Collection[str] | None) -> str:
    """Lower-case, check the form and (when given) membership in the allowed families."""
    value = name.strip().lower()
    if not _GENERATOR_NAME.match(value) or value in _RESERVED:
        raise DatasetError(f"{where}: {name!r} is not a usable generator name (letters, digits, . _ + -)")
    if allowed is not None and value not in allowed:
        raise DatasetError(f"{where}: unknown generator {name!r}; allowed: {', '.join(sorted(allowed))}")
    return value


def _allowed(generators: Collection[str] | None) -> set[str] | None:
    if generators is None:
        return None
    names = {g.strip().lower() for g in generators if g.strip()}
    if not names:
        raise DatasetError("the allowed generator list is empty")
    return names


def load_dataset(
    source: Path, generators: Collection[str] | None = None, check_images: bool = True
) -> list[ImageRecord]:
    """Records of a dataset folder or manifest. ``generators``: the allowed family names (or any).

    ``check_images`` opens each file's header (cheap) so a file that is not an image fails here,
    naming it, rather than deep inside a later step.
    """
    allowed = _allowed(generators)
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if source.is_dir():
        records = _load_folder(source, allowed)
    elif source.suffix.lower() == ".csv":
        records = list(_load_csv(source, allowed))
    elif source.suffix.lower() in (".jsonl", ".ndjson"):
        records = list(_load_jsonl(source, allowed))
    else:
        raise DatasetError(f"{source}: not a folder, .csv or .jsonl manifest")
    if not records:
        raise DatasetError(f"{source}: no images found")
    seen: dict[Path, int] = {}
    for index, record in enumerate(records):
        if record.path in seen:
            raise DatasetError(f"{source}: {record.path} is listed twice")
        seen[record.path] = index
    if check_images:
        for record in records:
            check_image(record.path)
    return records


def _decoders() -> list[str]:
    """The decoders the CLI allows on input (never EPS and the like), where this Pillow has them."""
    Image.init()
    return [
        name for name in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "AVIF", "HEIF") if name in Image.OPEN
    ]


def check_image(path: Path) -> None:
    """DatasetError naming ``path`` unless it opens as an image (header only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=_decoders()) as image:
                image.size  # noqa: B018 - the header is parsed on open; size proves it
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None


# --- folder layout --------------------------------------------------------------------------


def _images_under(folder: Path) -> list[Path]:
    """Image files below ``folder``; hidden files and folders (.DS_Store, ._x.jpg) are skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _load_folder(root: Path, allowed: set[str] | None) -> list[ImageRecord]:
    top = {p.name for p in root.iterdir() if p.is_dir()}
    split_dirs = sorted(top & set(SPLITS))
    class_dirs = sorted(top & set(LABELS))
    if split_dirs and class_dirs:
        raise DatasetError(
            f"{root}: has both split folders ({', '.join(split_dirs)}) and class folders "
            f"({', '.join(class_dirs)}) at the top; put the splits either above or below real/ and fake/"
        )
    if split_dirs:
        records: list[ImageRecord] = []
        for split in split_dirs:
            records += _load_classes(root, root / split, allowed, split)
        return records
    if not class_dirs:
        raise DatasetError(f"{root}: expected real/ and fake/<generator>/ folders (or train/ val/ test/)")
    return _load_classes(root, root, allowed, None)


def _load_classes(root: Path, base: Path, allowed: set[str] | None, split: str | None) -> list[ImageRecord]:
    records: list[ImageRecord] = []
    real = base / "real"
    if real.is_dir():
        records += [_folder_record(root, real, p, "real", None, split) for p in _images_under(real)]
    fake = base / "fake"
    if fake.is_dir():
        stray = [p for p in fake.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if stray:
            raise DatasetError(f"{stray[0]}: fake images go in fake/<generator>/, not directly in fake/")
        for folder in sorted(p for p in fake.iterdir() if p.is_dir()):
            generator = normalise_generator(folder.name, str(folder), allowed)
            records += [
                _folder_record(root, folder, p, "fake", generator, split) for p in _images_under(folder)
            ]
    return records


def _folder_record(
    root: Path, class_dir: Path, path: Path, label: str, generator: str | None, split: str | None
) -> ImageRecord:
    inner = path.relative_to(class_dir).parts
    if split is None and len(inner) > 1 and inner[0] in SPLITS:
        split = inner[0]
    if split is None:
        split = hash_split(path.relative_to(root).as_posix())
    return ImageRecord(path.resolve(), label, split, generator, None)


# --- manifests ------------------------------------------------------------------------------


def _record_from_row(row: dict[str, Any], manifest: Path, line: int, allowed: set[str] | None) -> ImageRecord:
    where = f"{manifest}:{line}"
    unknown = sorted(set(row) - set(MANIFEST_FIELDS))
    if unknown:
        raise DatasetError(f"{where}: unknown field {unknown[0]!r}; known: {', '.join(MANIFEST_FIELDS)}")
    values = {key: _text(row.get(key), where, key) for key in MANIFEST_FIELDS}
    if not values["path"]:
        raise DatasetError(f"{where}: missing path")
    label = values["label"].lower()
    if not label:
        raise DatasetError(f"{where}: missing label (real or fake)")
    if label not in LABELS:
        raise DatasetError(f"{where}: label {values['label']!r} is not real or fake")
    generator: str | None = None
    if values["generator"]:
        if label == "real":
            raise DatasetError(f"{where}: a real image has no generator (got {values['generator']!r})")
        generator = normalise_generator(values["generator"], where, allowed)
    split = values["split"].lower()
    if split and split not in SPLITS:
        raise DatasetError(f"{where}: split {values['split']!r} is not one of {', '.join(SPLITS)}")
    path = Path(values["path"]).expanduser()
    if not path.is_absolute():
        path = manifest.parent / path
    if not path.is_file():
        raise DatasetError(f"{where}: no such image file {values['path']!r}")
    return ImageRecord(
        path.resolve(), label, split or hash_split(values["path"]), generator, values["source"] or None
    )


def _text(value: Any, where: str, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: {key} must be text, got {type(value).__name__}")
    return value.strip()


def _load_csv(manifest: Path, allowed: set[str] | None) -> Iterator[ImageRecord]:
    try:
        with manifest.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            unknown = [name for name in header if name not in MANIFEST_FIELDS]
            if unknown:
                raise DatasetError(
                    f"{manifest}: unknown column {unknown[0]!r}; known: {', '.join(MANIFEST_FIELDS)}"
                )
            for required in ("path", "label"):
                if required not in header:
                    raise DatasetError(f"{manifest}: missing column {required!r}")
            for row in reader:
                if None in row:
                    raise DatasetError(f"{manifest}:{reader.line_num}: more values than columns")
                if not any((v or "").strip() for v in row.values()):
                    continue
                yield _record_from_row(dict(row), manifest, reader.line_num, allowed)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot read manifest ({exc})") from None


def _load_jsonl(manifest: Path, allowed: set[str] | None) -> Iterator[ImageRecord]:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{manifest}: cannot read manifest ({exc})") from None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{manifest}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{manifest}:{number}: expected a JSON object")
        yield _record_from_row(row, manifest, number, allowed)
