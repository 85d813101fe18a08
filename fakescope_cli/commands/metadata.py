"""`fakescope metadata PATH...`: every metadata field of each file, grouped by where it was found."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fakescope_cli.commands._common import (
    EXIT_OK,
    EXIT_UNREADABLE,
    error_line,
    inputs_or_exit,
    safe,
    stdout,
    warn,
)


def metadata(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Every EXIF, XMP, IPTC, PNG text and JPEG comment field, grouped like `exiftool -a -G1`
    (values escaped and capped; JSON keeps them exact)."""
    from fakescope_cli.evidence.metadata_dump import dump_metadata
    from fakescope_cli.imageio import read_image_file

    failed = False
    documents: list[dict[str, object]] = []
    for item in inputs_or_exit(paths):
        if item.error is not None:
            error_line(item.error)
            failed = True
            documents.append({"path": str(item.path), "error": item.error})
            continue
        try:
            data = read_image_file(item.path)
        except Exception as exc:  # ImageInputError: one line naming the file, the rest go on
            error_line(str(exc))
            failed = True
            documents.append({"path": str(item.path), "error": str(exc)})
            continue
        dump = dump_metadata(data)
        documents.append({"path": str(item.path), "error": None, **dump.to_dict()})
        if not as_json:
            _print(item.path, dump)
    if as_json:
        sys.stdout.write(json.dumps({"files": documents}, indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(EXIT_UNREADABLE if failed else EXIT_OK)


def _print(path: Path, dump) -> None:
    stdout.print(f"[bold]{safe(path)}[/]")
    if not dump.fields:
        stdout.print("  (no metadata fields)")
    group = None
    for entry in dump.fields:
        if entry.group != group:
            group = entry.group
            stdout.print(f"  [cyan]\\[{safe(group)}][/]")
        more = " [dim](cut)[/]" if entry.truncated else ""
        stdout.print(f"    {safe(entry.name)}: {safe(entry.value)}{more}")
    for problem in dump.problems:
        warn(f"{path}: {problem}")
    for entry in dump.control_sequences:
        warn(f"{path}: {entry.group} {entry.name} holds terminal control sequences (shown escaped)")
