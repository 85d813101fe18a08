"""Carry large files in parts: split them with a sha256 manifest, join them back and verify.

For the GPU machine, which takes a limited working tree per call and has no network but keeps files
between back-to-back calls: split here, send the parts over several calls, join there. Standard
library only, so it runs where nothing else of ours is installed::

    python -m train.run.mini.stage split models/a.gguf --out staged --part-mb 48
    python -m train.run.mini.stage join staged --out models
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MANIFEST = "stage-manifest.json"
FORMAT = "fakescope.stage/1"
DEFAULT_PART_MB = 48.0
_BLOCK = 1 << 20


class StageError(Exception):
    """A file or part that cannot be split, found or verified; the message names it."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def split_files(files: Sequence[Path], out_dir: Path, part_mb: float = DEFAULT_PART_MB) -> dict[str, Any]:
    """Write ``NAME.partNNN`` files and ``stage-manifest.json`` into ``out_dir``; return the manifest."""
    part_bytes = int(part_mb * (1 << 20))
    if part_bytes < 1:
        raise StageError(f"--part-mb must be positive (got {part_mb})")
    names = [path.name for path in files]
    for path in files:
        if not path.is_file():
            raise StageError(f"{path}: no such file")
        if names.count(path.name) > 1:
            raise StageError(f"{path}: two files named {path.name!r}; stage them separately")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        entries = [_split_one(path, out_dir, part_bytes) for path in files]
        manifest = {"format": FORMAT, "part_bytes": part_bytes, "files": entries}
        partial = out_dir / (MANIFEST + ".partial")
        partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, out_dir / MANIFEST)
    except OSError as exc:
        raise StageError(f"{out_dir}: cannot write ({exc.strerror or exc})") from None
    return manifest


def _split_one(path: Path, out_dir: Path, part_bytes: int) -> dict[str, Any]:
    whole = hashlib.sha256()
    parts: list[dict[str, Any]] = []
    size = 0
    with path.open("rb") as source:
        index = 0
        while True:
            part = out_dir / f"{path.name}.part{index:03d}"
            digest = hashlib.sha256()
            written = 0
            with part.open("wb") as sink:
                while written < part_bytes:
                    block = source.read(min(_BLOCK, part_bytes - written))
                    if not block:
                        break
                    sink.write(block)
                    digest.update(block)
                    whole.update(block)
                    written += len(block)
            size += written
            if written == 0 and index > 0:
                part.unlink()
                break
            parts.append({"file": part.name, "bytes": written, "sha256": digest.hexdigest()})
            index += 1
            if written < part_bytes:
                break
    return {"name": path.name, "bytes": size, "sha256": whole.hexdigest(), "parts": parts}


def _plain_name(value: object, manifest: Path) -> str:
    if not isinstance(value, str) or not value or value != Path(value).name or value in (".", ".."):
        raise StageError(f"{manifest}: {value!r} is not a plain file name")
    return value


def _read_manifest(stage_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    path = stage_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"{path}: missing (run stage-split, and send the manifest with the parts)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StageError(f"{path}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StageError(f"{path}: not a {FORMAT} manifest")
    entries = manifest.get("files")
    if not isinstance(entries, list) or not entries:
        raise StageError(f"{path}: lists no files")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("parts"), list):
            raise StageError(f"{path}: malformed file entry {str(entry)[:80]!r}")
        _plain_name(entry.get("name"), path)
        for part in entry["parts"]:
            if not isinstance(part, dict) or not isinstance(part.get("bytes"), int):
                raise StageError(f"{path}: malformed part entry {str(part)[:80]!r}")
            _plain_name(part.get("file"), path)
    return path, entries


def join_parts(stage_dir: Path, out_dir: Path) -> list[Path]:
    """Reassemble every file the manifest lists into ``out_dir``; each part and file is verified."""
    _, entries = _read_manifest(stage_dir)
    for entry in entries:  # every part present and complete before anything is written
        for part in entry["parts"]:
            path = stage_dir / part["file"]
            if not path.is_file():
                raise StageError(f"{path}: missing part of {entry['name']}")
            if path.stat().st_size != part["bytes"]:
                raise StageError(
                    f"{path}: {path.stat().st_size} bytes, the manifest says {part['bytes']} "
                    "(incomplete copy?)"
                )
    written = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            written.append(_join_one(stage_dir, entry, out_dir))
    except OSError as exc:
        raise StageError(f"{out_dir}: cannot write ({exc.strerror or exc})") from None
    return written


def _join_one(stage_dir: Path, entry: dict[str, Any], out_dir: Path) -> Path:
    target = out_dir / entry["name"]
    partial = target.with_name(target.name + ".partial")
    whole = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            for part in entry["parts"]:
                path = stage_dir / part["file"]
                digest = hashlib.sha256()
                with path.open("rb") as source:
                    for block in iter(lambda: source.read(_BLOCK), b""):
                        digest.update(block)
                        whole.update(block)
                        sink.write(block)
                if digest.hexdigest() != part.get("sha256"):
                    raise StageError(
                        f"{path}: corrupt part of {entry['name']} (sha256 differs from the manifest)"
                    )
        if whole.hexdigest() != entry.get("sha256"):
            raise StageError(f"{target}: joined file's sha256 differs from the manifest")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.run.mini.stage", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    split = sub.add_parser("split", help="cut files into parts plus a sha256 manifest")
    split.add_argument("files", type=Path, nargs="+", metavar="FILE")
    split.add_argument("--out", type=Path, required=True, metavar="DIR")
    split.add_argument("--part-mb", type=float, default=DEFAULT_PART_MB)
    join = sub.add_parser("join", help="reassemble and verify")
    join.add_argument("dir", type=Path, metavar="DIR")
    join.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        if args.command == "split":
            manifest = split_files(args.files, args.out, args.part_mb)
            count = sum(len(entry["parts"]) for entry in manifest["files"])
            sys.stdout.write(f"wrote {count} parts and {args.out / MANIFEST}\n")
        else:
            for path in join_parts(args.dir, args.out):
                sys.stdout.write(f"joined {path} (sha256 checked)\n")
    except StageError as exc:
        if os.environ.get("FAKESCOPE_DEBUG") == "1":
            raise
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
