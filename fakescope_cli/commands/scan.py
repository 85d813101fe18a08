"""`fakescope scan`: p(fake) for every image under the given paths."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fakescope_cli.commands._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_FLAGGED,
    EXIT_OK,
    EXIT_UNREADABLE,
    ContextOption,
    GpuLayersOption,
    MmprojOption,
    ModelOption,
    ThreadsOption,
    domain_errors,
    error_line,
    model_record,
    open_engine,
    printable,
    safe,
    stderr,
    stdout,
    warn,
)
from fakescope_cli.discovery import discover
from fakescope_cli.formats import csv_text, json_report, jsonl_line, run_header
from fakescope_cli.results import DecodingSettings, ImageResult
from fakescope_cli.scan import DEFAULT_THRESHOLD, VERDICT_AI, ScanOptions, scan_files


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Flag an image when p(fake) is at least this.")
    ] = DEFAULT_THRESHOLD,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report on stdout.")] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON line per image as it finishes.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    gpu_layers: GpuLayersOption = 0,
    threads: ThreadsOption = None,
    n_ctx: ContextOption = 4096,
) -> None:
    """Score images: the probability that each was made by an AI generator."""
    if sum([as_json, as_jsonl, as_csv]) > 1:
        error_line("choose one of --json, --jsonl, --csv")
        raise typer.Exit(EXIT_ERROR)
    inputs = list(discover(paths))
    if not inputs:
        warn("no images found")
        raise typer.Exit(EXIT_OK)
    with domain_errors():
        engine = open_engine(model, mmproj, gpu_layers, threads, n_ctx)
    with engine:
        record = model_record(engine) if (as_json or as_jsonl) else None
        effective_ctx = engine.native.n_ctx
        results: list[ImageResult] = []
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
            disable=not stderr.is_terminal,
        )
        with progress:
            task = progress.add_task("scanning", total=len(inputs))
            for result in scan_files(engine, inputs, ScanOptions(threshold=threshold)):
                results.append(result)
                if result.error:
                    error_line(result.error)
                if as_jsonl and record is not None:
                    sys.stdout.write(jsonl_line(result, record) + "\n")
                    sys.stdout.flush()
                progress.advance(task)

    if as_json and record is not None:
        header = run_header(record, DecodingSettings(n_ctx=effective_ctx, gpu_layers=gpu_layers), threshold)
        sys.stdout.write(json_report(header, results) + "\n")
    elif as_csv:
        sys.stdout.write(csv_text(results))
    elif not as_jsonl:
        _print_table(results)
    raise typer.Exit(exit_code(results))


def exit_code(results: list[ImageResult]) -> int:
    if any(r.error for r in results):
        return EXIT_UNREADABLE
    if any(r.verdict == VERDICT_AI for r in results):
        return EXIT_FLAGGED
    return EXIT_OK


def _print_table(results: list[ImageResult]) -> None:
    """A table on a terminal; tab-separated lines (header first) when piped, for grep and cut."""
    if not stdout.is_terminal:
        lines = ["path\tverdict\tp_fake"]
        for r in results:
            path = printable(r.path).replace("\t", "\\t")
            lines.append(f"{path}\terror\t-" if r.error else f"{path}\t{r.verdict}\t{r.p_fake:.4f}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("path", overflow="fold")
    table.add_column("verdict")
    table.add_column("p(fake)", justify="right")
    for r in results:
        if r.error:
            table.add_row(safe(r.path), "[red]error[/]", "-")
        else:
            style = "red" if r.verdict == VERDICT_AI else "green"
            table.add_row(safe(r.path), f"[{style}]{r.verdict}[/]", f"{r.p_fake:.3f}")
    stdout.print(table)


scan.__doc__ = f"Score images: the probability that each was made by an AI generator.\n\n{EXIT_CODES_HELP}"
