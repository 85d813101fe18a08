"""`fakescope scan`: a verdict for every image under the given paths (model + evidence)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fakescope_cli.commands._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_OK,
    BandOption,
    C2paTrustOption,
    ContextOption,
    GpuLayersOption,
    MmprojOption,
    ModelOption,
    ThreadsOption,
    domain_errors,
    error_line,
    exit_code,
    model_record,
    open_engine,
    printable,
    read_trust_anchors,
    safe,
    stderr,
    stdout,
    styled_verdict,
    warn,
)
from fakescope_cli.discovery import InputFile, discover
from fakescope_cli.evidence.engine import EvidenceOptions
from fakescope_cli.evidence.fusion import DEFAULT_BAND
from fakescope_cli.formats import ModelRecord, csv_text, json_report, jsonl_line, run_header
from fakescope_cli.results import DecodingSettings, ImageResult
from fakescope_cli.scan import DEFAULT_THRESHOLD, ScanOptions, scan_files

if TYPE_CHECKING:
    from fakescope_cli.engine.base import ForensicModel


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Flag an image when p(fake) is at least this.")
    ] = DEFAULT_THRESHOLD,
    band: BandOption = DEFAULT_BAND,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report on stdout.")] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON line per image as it finishes.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    evidence: Annotated[
        bool,
        typer.Option("--evidence/--no-evidence", help="Also gather file evidence (metadata, C2PA, traces)."),
    ] = True,
    evidence_only: Annotated[
        bool, typer.Option("--evidence-only", help="Run no model: verdicts from file evidence alone.")
    ] = False,
    c2pa_trust: C2paTrustOption = None,
    gpu_layers: GpuLayersOption = 0,
    threads: ThreadsOption = None,
    n_ctx: ContextOption = 4096,
) -> None:
    """Score images: the probability that each was made by an AI generator, with file evidence."""
    if sum([as_json, as_jsonl, as_csv]) > 1:
        error_line("choose one of --json, --jsonl, --csv")
        raise typer.Exit(EXIT_ERROR)
    if evidence_only and not evidence:
        error_line("--evidence-only and --no-evidence leave nothing to do")
        raise typer.Exit(EXIT_ERROR)
    evidence_options = (
        EvidenceOptions(c2pa_trust_anchors=read_trust_anchors(c2pa_trust)) if evidence else None
    )
    options = ScanOptions(threshold=threshold, band=band, evidence=evidence_options)
    inputs = list(discover(paths))
    if not inputs:
        warn("no images found")
        raise typer.Exit(EXIT_OK)
    output = OutputMode(as_json, as_jsonl, as_csv)
    if evidence_only:
        results = run_scan(None, inputs, options, output, None)
        finish(results, output, None, None, options)
    with domain_errors():
        engine = open_engine(model, mmproj, gpu_layers, threads, n_ctx)
    with engine:
        record = model_record(engine) if (as_json or as_jsonl) else None
        decoding = DecodingSettings(n_ctx=engine.native.n_ctx, gpu_layers=gpu_layers)
        results = run_scan(engine, inputs, options, output, record)
    finish(results, output, record, decoding, options)


class OutputMode:
    def __init__(self, as_json: bool, as_jsonl: bool, as_csv: bool) -> None:
        self.json, self.jsonl, self.csv = as_json, as_jsonl, as_csv


def run_scan(
    engine: ForensicModel | None,
    inputs: list[InputFile],
    options: ScanOptions,
    output: OutputMode,
    record: ModelRecord | None,
) -> list[ImageResult]:
    """Scan with a progress bar on a terminal's stderr; JSON Lines are written as each file finishes."""
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
    with progress if stderr.is_terminal else nullcontext():
        task = progress.add_task("scanning", total=len(inputs))
        for result in scan_files(engine, inputs, options):
            results.append(result)
            if result.error:
                error_line(result.error)
            if output.jsonl:
                sys.stdout.write(jsonl_line(result, record) + "\n")
                sys.stdout.flush()
            progress.advance(task)
    return results


def finish(
    results: list[ImageResult],
    output: OutputMode,
    record: ModelRecord | None,
    decoding: DecodingSettings | None,
    options: ScanOptions,
    table: Callable[[list[ImageResult]], Any] | None = None,
) -> None:
    """Write the chosen output format and exit with the documented code."""
    if output.json:
        header = run_header(record, decoding, options.threshold, options.band)
        sys.stdout.write(json_report(header, results) + "\n")
    elif output.csv:
        sys.stdout.write(csv_text(results))
    elif not output.jsonl:
        (table or print_table)(results)
    raise typer.Exit(exit_code(results))


def print_table(results: list[ImageResult]) -> None:
    """A table on a terminal; tab-separated lines (header first) when piped, for grep and cut."""
    if not stdout.is_terminal:
        lines = ["path\tverdict\tp_fake\treason"]
        for r in results:
            path = printable(r.path).replace("\t", "\\t")
            reason = printable(r.fused.reason if r.fused else "").replace("\t", "\\t")
            p_fake = "-" if r.p_fake is None else f"{r.p_fake:.4f}"
            lines.append(f"{path}\terror\t-\t" if r.error else f"{path}\t{r.verdict}\t{p_fake}\t{reason}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("path", overflow="fold")
    table.add_column("verdict")
    table.add_column("p(fake)", justify="right")
    table.add_column("why", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(safe(r.path), styled_verdict(None), "-", "")
        else:
            p_fake = "-" if r.p_fake is None else f"{r.p_fake:.3f}"
            table.add_row(
                safe(r.path), styled_verdict(r.verdict), p_fake, safe(r.fused.reason if r.fused else "")
            )
    stdout.print(table)


scan.__doc__ = (
    "Score images: the probability that each was made by an AI generator, fused with the file's "
    f"evidence into one verdict.\n\n{EXIT_CODES_HELP}"
)
