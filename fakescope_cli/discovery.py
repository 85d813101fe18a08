"""Expand command-line paths into the files to analyse; images are recognised by content."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.imageio import IMAGE_SUFFIXES, sniff_format


@dataclass(frozen=True)
class InputFile:
    path: Path
    error: str | None = None  # set when the path itself is unusable


def _looks_like_image(path: Path) -> bool:
    """Content decides; an image-like name also counts, so a broken image is reported, not skipped."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return sniff_format(fh.read(16)) is not None
    except OSError:
        return False


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def discover(paths: Sequence[Path]) -> Iterator[InputFile]:
    """Files named directly are always analysed; folders are searched recursively for images."""
    seen: set[Path] = set()
    for raw in paths:
        candidates: Iterator[Path]
        if raw.is_dir():
            candidates = (p for p in _walk(raw) if _looks_like_image(p))
        elif raw.exists():
            candidates = iter([raw])
        else:
            yield InputFile(raw, f"{raw}: no such file or folder")
            continue
        for path in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield InputFile(path)
