"""`fakescope report`: one forensic report per image (HTML, Markdown, JSON) for investigators."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from fakescope_cli.commands._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
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
    inputs_or_exit,
    model_record,
    open_engine,
    printable,
    read_trust_anchors,
    safe,
    stderr,
)
from fakescope_cli.commands.explain import RegionOption, parse_region
from fakescope_cli.evidence.fusion import DEFAULT_BAND
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.report.build import build_report
from fakescope_cli.report.model import RunContext
from fakescope_cli.report.write import FORMATS, write_image_report
from fakescope_cli.results import DecodingSettings
from fakescope_cli.scan import DEFAULT_THRESHOLD


def report(
    paths: Annotated[list[Path], typer.Argument(help="Images and folders to report on.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the reports (created if missing).")],
    formats: Annotated[
        list[str], typer.Option("--format", "-f", help="html, md or json; repeat for several.")
    ] = ["html"],  # noqa: B006 - Typer reads the default, never mutates it
    ask: Annotated[list[str], typer.Option("--ask", help="A question for the model; repeatable.")] = [],  # noqa: B006
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    evidence_only: Annotated[bool, typer.Option("--evidence-only", help="Run no model.")] = False,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = DEFAULT_THRESHOLD,
    band: BandOption = DEFAULT_BAND,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 256,
    heatmap: Annotated[
        bool,
        typer.Option("--map", help="Crops-view models: add a p(fake) heat map over a dense grid of crops."),
    ] = False,
    region: RegionOption = None,
    c2pa_trust: C2paTrustOption = None,
    gpu_layers: GpuLayersOption = 0,
    threads: ThreadsOption = None,
    n_ctx: ContextOption = 4096,
) -> None:
    """Write a forensic report per image: verdict, p(fake), evidence, signal maps, the model's
    rationale and answers, and a chain-of-custody block."""
    chosen = tuple(dict.fromkeys(f.lower() for f in formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        error_line(f"unknown report format {unknown[0]!r}: choose from {', '.join(FORMATS)}")
        raise typer.Exit(EXIT_ERROR)
    if evidence_only and (ask or heatmap or region):
        error_line("--ask, --map and --region need a model; drop --evidence-only")
        raise typer.Exit(EXIT_ERROR)
    where = parse_region(region)
    options = EvidenceOptions(figures=True, c2pa_trust_anchors=read_trust_anchors(c2pa_trust))
    inputs = inputs_or_exit(paths)
    _make_folder(out)
    engine = None
    if not evidence_only:
        with domain_errors():
            engine = open_engine(model, mmproj, gpu_layers, threads, n_ctx)
    try:
        record = model_record(engine) if engine else None
        decoding = (
            DecodingSettings(max_tokens=max_tokens, n_ctx=engine.native.n_ctx, gpu_layers=gpu_layers)
            if engine
            else None
        )
        context = RunContext.now(record, decoding, threshold, band)
        results = []
        for item in inputs:
            if item.error is not None:
                # a symlink loop, an unreadable folder: its page says so, as scan --report-dir's does
                from fakescope_cli.report.build import complete_report
                from fakescope_cli.results import ImageResult

                image_report = complete_report(ImageResult(str(item.path), error=item.error), context)
            else:
                with heatmap_progress(item.path, heatmap) as on_crops:
                    image_report = build_report(
                        item.path, context, engine, tuple(ask), options, heatmap, where, on_crops
                    )
            results.append(image_report.result)
            if image_report.result.error:
                error_line(image_report.result.error)
            for written in write_image_report(image_report, out, chosen):
                sys.stdout.write(printable(written) + "\n")
    finally:
        if engine is not None:
            engine.close()
    unreadable = any(item.error for item in inputs)
    code = exit_code(results)
    raise typer.Exit(3 if unreadable else code)


@contextmanager
def heatmap_progress(path: Path, active: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal's stderr while one image's heat-map grid is judged."""
    if not active or not stderr.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(f"heat map {safe(path.name)}"), BarColumn(), MofNCompleteColumn(),
                  console=stderr, transient=True) as progress:  # fmt: skip
        task = progress.add_task("map", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error_line(f"{folder}: cannot create the report folder ({exc.strerror or exc})")
        raise typer.Exit(EXIT_ERROR) from None


report.__doc__ = (
    "Write a forensic report per image (HTML, Markdown or JSON): verdict, p(fake), evidence, signal maps, "
    f"the model's rationale and answers, and a chain-of-custody block.\n\n{EXIT_CODES_HELP}"
)
