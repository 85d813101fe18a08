"""`fakescope model info|import|list|pull|remove`: describe, install, list and remove model pairs."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fakescope_cli.card import card_from_metadata
from fakescope_cli.commands._common import MmprojOption, domain_errors, safe, stdout, warn
from fakescope_cli.commands.model_pull import list_available, models_dir, pull, remove, tsv_line
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
    """Architecture, sizes, quantization, profile, model card (limits) and SHA-256 of each file."""
    with domain_errors():
        files = locate_model(path, mmproj, how_to_pass="Name one: 'fakescope model info FILE.gguf'")
        validated = validate_pair(files)
        text, proj = _describe(validated.text), _describe(validated.mmproj)
    profile, warnings = profile_from_metadata({k: str(v) for k, v in validated.text.metadata.items()})
    profile_data = {k: v for k, v in profile.as_dict().items() if k != "chat_template"}
    card = card_from_metadata(validated.text.metadata)
    if as_json:
        body = {
            "found_by": files.found_by,
            "text": text,
            "mmproj": proj,
            "profile": profile_data,
            "card": asdict(card) if card else None,
            "warnings": warnings,
        }
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return
    for warning in warnings:
        warn(warning)
    stdout.print(f"found by: {safe(files.found_by)}")
    for title, data in (("text model", text), ("vision projector", proj), ("profile", profile_data)):
        if not stdout.is_terminal:  # piped: one "key: value" line each, a SHA-256 never wrapped
            stdout.print(f"{title}:")
            for key, value in data.items():
                stdout.print(f"  {safe(key)}: {safe(value)}")  # soft wrap: never folded
            continue
        table = Table(title=title, show_header=False, title_justify="left", show_edge=False)
        table.add_column("key", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(safe(key), safe(value))
        stdout.print(table)
    if card is not None:
        stdout.print("[bold]model card[/] [dim](the model's own statement of its limits)[/]")
        if card.caveat:
            stdout.print(f"  [yellow]caveat:[/] {safe(card.caveat)}")
        if card.limits:
            stdout.print(f"  limits: {safe(card.limits, keep_newlines=True)}")


@app.command("import")
def import_(
    sources: Annotated[
        list[Path], typer.Argument(help="Export folder(s), NAME.manifest.json, or the GGUFs beside one.")
    ],
) -> None:
    """Copy converted models into the models folder, checking each file against its manifest."""
    from fakescope_cli.install import import_model

    target = models_dir()
    with domain_errors():
        installed = import_model(sources, target)
    for path in installed:
        stdout.print(f"installed {safe(path)}")


@app.command("list")
def list_(
    available: Annotated[
        bool, typer.Option("--available", help="Show the catalogue of models 'model pull NAME' knows.")
    ] = False,
) -> None:
    """Models installed in the models folder: size, where each came from, and its caveat."""
    from fakescope_cli.install import list_models

    if available:
        list_available()
        return
    target = models_dir()
    models = list_models(target)
    if not models:
        stdout.print(
            f"no models in {safe(target)} ('fakescope model list --available' shows what can be pulled)"
        )
        _mention_bundled()
        return
    if not stdout.is_terminal:
        for model in models:
            tsv_line(
                model.name,
                model.quantization,
                model.architecture,
                model.bytes,
                model.source,
                "mmproj" if model.mmproj else "no-mmproj",
                model.caveat or "",
            )
        return
    table = Table(title=f"models in {safe(target)}", title_justify="left", show_edge=False)
    for column in ("name", "type", "architecture", "size", "source"):
        table.add_column(column, no_wrap=column in ("name", "type", "size"), overflow="fold")
    table.add_column("caveat", ratio=2)
    for model in models:
        arch = model.architecture.removesuffix("ForConditionalGeneration")
        missing = "" if model.mmproj else " [red](no mmproj)[/]"
        table.add_row(
            safe(model.name) + missing,
            safe(model.quantization),
            safe(arch),
            f"{model.bytes / 1e6:.0f} MB" if model.bytes >= 1e7 else f"{model.bytes / 1e6:.1f} MB",
            safe(model.source),
            safe(model.caveat or ""),
        )
    stdout.print(table)
    _mention_bundled()


def _mention_bundled() -> None:
    from fakescope_cli import paths

    folder = paths.bundled_model_dir()
    if stdout.is_terminal and folder.is_dir():
        stdout.print(
            f"[dim]and the bundled {paths.BUNDLED_MODEL} in {safe(folder)}, used when no other is found[/]"
        )


app.command()(pull)
app.command()(remove)
