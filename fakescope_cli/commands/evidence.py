"""`fakescope evidence`: provenance, metadata and signal traces for images; no model needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fakescope_cli.commands._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    C2paTrustOption,
    error_line,
    inputs_or_exit,
    printable,
    safe,
    stdout,
    styled_verdict,
)
from fakescope_cli.commands.scan import (
    FailOnOption,
    OutputMode,
    QuietOption,
    WorkersOption,
    finish,
    parse_fail_on,
    run_scan,
)
from fakescope_cli.evidence.items import CATEGORIES, NONE
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.formats import inert_cell
from fakescope_cli.report.atomic import atomic_write
from fakescope_cli.report.model import report_stem
from fakescope_cli.results import ImageResult
from fakescope_cli.scan import ScanOptions

_STRENGTH_STYLE = {"strong": "bold", "moderate": "", "weak": "dim", "none": "dim"}


def evidence(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report on stdout.")] = False,
    as_jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON line per image.")] = False,
    signals: Annotated[
        bool, typer.Option("--signals/--no-signals", help="Measure signal traces (ELA, spectrum, JPEG).")
    ] = True,
    figures: Annotated[
        Path | None, typer.Option("--figures", help="Write the ELA and spectrum maps as PNG files here.")
    ] = None,
    fail_on: FailOnOption = None,
    quiet: QuietOption = False,
    workers: WorkersOption = None,
    c2pa_trust: C2paTrustOption = None,
) -> None:
    """File evidence for each image, and a verdict from the evidence alone (no model is run)."""
    from fakescope_cli.commands._common import read_trust_anchors

    if as_json and as_jsonl:
        error_line("choose one of --json, --jsonl")
        raise typer.Exit(EXIT_ERROR)
    if figures is not None and not signals:
        error_line("--figures needs the signal traces; drop --no-signals")
        raise typer.Exit(EXIT_ERROR)
    trust = read_trust_anchors(c2pa_trust)
    options = ScanOptions(
        evidence=EvidenceOptions(signals=signals, figures=figures is not None, c2pa_trust_anchors=trust)
    )
    inputs = inputs_or_exit(paths)
    output = OutputMode(json=as_json, jsonl=as_jsonl, quiet=quiet, fail_on=parse_fail_on(fail_on))
    results = run_scan(inputs, options, output, None, None, None, workers)
    if figures is not None:
        write_figures(results, figures)
    finish(results, output, None, None, options, table=print_findings)


def write_figures(results: list[ImageResult], folder: Path) -> None:
    """NAME.HASH.ela.png and NAME.HASH.spectrum.png for each image (see report_stem)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error_line(f"{folder}: cannot create the figures folder ({exc.strerror or exc})")
        raise typer.Exit(EXIT_ERROR) from None
    for result in results:
        if result.evidence is None or not result.evidence.figures:
            continue
        stem = report_stem(result.path, result.sha256)
        for name, png in result.evidence.figures.items():
            try:
                atomic_write(folder / f"{stem}.{name}.png", png)
            except OSError as exc:
                error_line(f"{folder}: cannot write the {name} map of {result.path} ({exc.strerror or exc})")
                raise typer.Exit(EXIT_ERROR) from None


def print_findings(results: list[ImageResult], report_style: bool = False) -> None:
    """Per image: the verdict line, then its findings; tab-separated lines when piped, unless
    ``report_style`` (explain: one readable text, whose findings are "- category: finding" lines)."""
    if not stdout.is_terminal and report_style:
        for r in results:
            stdout.print(f"{safe(r.path)}: {r.verdict or 'error'}")
            if r.fused is not None:
                stdout.print(f"  why: {safe(r.fused.reason)}")
            for item in r.evidence.items if r.evidence else []:
                points = "" if item.strength == NONE else f" [{item.points_to}, {item.strength}]"
                stdout.print(f"  - {item.category}: {safe(item.summary)}{points}")
        return
    if not stdout.is_terminal:
        lines = ["path\tverdict\tid\tcategory\tpoints_to\tstrength\tfinding"]
        for r in results:
            path = inert_cell(r.path, spreadsheet=False)
            if r.evidence is None or r.error:
                lines.append(f"{path}\terror\t-\t-\t-\t-\t{printable(r.error or '')}")
            for item in r.evidence.items if r.evidence else []:
                summary = inert_cell(item.summary, spreadsheet=False)
                verdict = r.verdict or "error"
                lines.append(
                    f"{path}\t{verdict}\t{item.id}\t{item.category}\t{item.points_to}\t{item.strength}\t{summary}"
                )
        sys.stdout.write("\n".join(lines) + "\n")
        return
    for r in results:
        stdout.print(f"\n[bold]{safe(r.path)}[/]  {styled_verdict(r.verdict)}")
        if r.fused is not None:
            stdout.print(f"  [dim]why:[/] {safe(r.fused.reason)}")
        if r.evidence is None:
            continue
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for column in ("category", "finding", "points to", "where"):
            table.add_column(column, overflow="fold")
        order = {name: index for index, name in enumerate(CATEGORIES)}
        for item in sorted(r.evidence.items, key=lambda i: order.get(i.category, 99)):
            style = _STRENGTH_STYLE.get(item.strength, "")
            points = "" if item.strength == NONE else f"{item.points_to} ({item.strength})"
            row = [item.category, safe(item.summary), points, safe(item.location or "")]
            table.add_row(*(f"[{style}]{cell}[/]" if style and cell else cell for cell in row))
        stdout.print(table)


evidence.__doc__ = (
    "File evidence for each image (C2PA, IPTC/XMP, EXIF, generator metadata, JPEG tables, ELA, "
    f"noise spectrum, hashes) and a verdict from the evidence alone; no model is run.\n\n{EXIT_CODES_HELP}"
)
