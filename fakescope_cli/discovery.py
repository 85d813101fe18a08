"""Expand command-line paths into the files to analyse; images are recognised by content."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.imageio import IMAGE_SUFFIXES, sniff_format


@dataclass(frozen=True)
class InputFile:
    path: Path
    error: str | None = None  # set when the path itself is unusable


def _looks_like_image(path: Path) -> bool:
    """Content decides; an image-like name also counts, so a broken image is reported, not skipped.

    Only regular files are opened: a named pipe or device in a folder would block or never end.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False
    except (OSError, RuntimeError):
        return path.suffix.lower() in IMAGE_SUFFIXES  # broken link named like an image: report it
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return sniff_format(fh.read(16)) is not None
    except OSError:
        return False


def _walk(folder: Path, unreadable: list[OSError]) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, onerror=unreadable.append, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def discover(paths: Sequence[Path]) -> Iterator[InputFile]:
    """Files named directly are always analysed; folders are searched recursively for images."""
    seen: set[Path] = set()
    for raw in paths:
        unreadable: list[OSError] = []
        candidates: Iterator[Path]
        if raw.is_dir():
            candidates = (p for p in _walk(raw, unreadable) if _looks_like_image(p))
        elif raw.is_file():
            candidates = iter([raw])
        elif raw.exists():
            yield InputFile(raw, f"{raw}: not a regular file")
            continue
        else:
            yield InputFile(raw, f"{raw}: no such file or folder")
            continue
        for path in candidates:
            try:
                key = path.resolve(strict=False)
            except (OSError, RuntimeError) as exc:  # symlink loops raise RuntimeError on 3.11
                yield InputFile(path, f"{path}: cannot resolve path ({exc})")
                continue
            if key not in seen:
                seen.add(key)
                yield InputFile(path)
        for failure in unreadable:
            where = failure.filename or raw
            yield InputFile(Path(where), f"{where}: folder cannot be read")
