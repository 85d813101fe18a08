"""`fakescope model info`: what a model pair is, without running it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fakescope_cli.commands._common import MmprojOption, domain_errors, safe, stdout, warn
from fakescope_cli.gguf_header import GGUFHeader
from fakescope_cli.models import file_sha256, locate_model, validate_pair
from fakescope_cli.profile import profile_from_metadata

app = typer.Typer(help="Inspect models.", no_args_is_help=True)


def _describe(header: GGUFHeader) -> dict[str, Any]:
    meta = header.metadata
    arch = header.architecture
    data: dict[str, Any] = {
        "path": str(header.path),
        "bytes": header.file_size,
        "sha256": file_sha256(header.path),
        "architecture": arch,
        "name": meta.get("general.name"),
        "parameters": header.n_parameters,
        "file_type": header.file_type,
        "tensor_types": header.tensor_types(),
    }
    if arch == "clip":
        for key in (
            "clip.projector_type",
            "clip.vision.image_size",
            "clip.vision.patch_size",
            "clip.vision.projection_dim",
            "clip.vision.preproc_image_size",
        ):
            data[key.split(".", 1)[1]] = meta.get(key)
    else:
        for key in ("context_length", "embedding_length", "block_count"):
            data[key] = meta.get(f"{arch}.{key}")
    for key in ("fakescope.source.sha256", "fakescope.converter.version", "fakescope.converter.date"):
        if key in meta:
            data[key] = meta[key]
    return data


@app.command()
def info(
    path: Annotated[
        Path | None, typer.Argument(help="Text GGUF or a model folder (default: the model in use).")
    ] = None,
    mmproj: MmprojOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Architecture, sizes, quantization, profile and SHA-256 of each file of a model pair."""
    with domain_errors():
        files = locate_model(path, mmproj)
        validated = validate_pair(files)
        text, proj = _describe(validated.text), _describe(validated.mmproj)
    profile, warnings = profile_from_metadata({k: str(v) for k, v in validated.text.metadata.items()})
    profile_data = {k: v for k, v in profile.as_dict().items() if k != "chat_template"}
    if as_json:
        body = {
            "found_by": files.found_by,
            "text": text,
            "mmproj": proj,
            "profile": profile_data,
            "warnings": warnings,
        }
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return
    for warning in warnings:
        warn(warning)
    stdout.print(f"found by: {safe(files.found_by)}")
    for title, data in (("text model", text), ("vision projector", proj), ("profile", profile_data)):
        table = Table(title=title, show_header=False, title_justify="left", show_edge=False)
        table.add_column("key", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(safe(key), safe(value))
        stdout.print(table)
