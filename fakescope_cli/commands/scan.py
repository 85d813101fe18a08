"""`fakescope scan`: a verdict for every image under the given paths (model + evidence)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

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
    print_caveat,
    read_trust_anchors,
    resolve_model,
    safe,
    stderr,
    stdout,
    styled_verdict,
    warn,
)
from fakescope_cli.discovery import InputFile
from fakescope_cli.evidence.fusion import DEFAULT_BAND, FLAGGED, VERDICTS
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.formats import ModelRecord, csv_text, inert_cell, json_report, jsonl_line, run_header
from fakescope_cli.results import DecodingSettings, ImageResult
from fakescope_cli.scan import DEFAULT_THRESHOLD, ScanOptions

if TYPE_CHECKING:
    from fakescope_cli.cache import ResultCache
    from fakescope_cli.pipeline import ModelSpec
    from fakescope_cli.report.model import RunContext


@dataclass(frozen=True)
class OutputMode:
    json: bool = False
    jsonl: bool = False
    csv: bool = False
    quiet: bool = False
    fail_on: tuple[str, ...] = FLAGGED


FailOnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-on",
        help="Verdicts that make the exit code 1 (repeat or comma-separate; default ai-generated,likely-ai).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress, warnings or per-file error lines on stderr.")
]
CacheOption = Annotated[
    bool, typer.Option("--cache/--no-cache", help="Reuse and store results in the user cache (SQLite).")
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        envvar="FAKESCOPE_CLUSTER",
        help="Run the analyses on the Ray cluster whose head is at HOST:PORT ('local' starts one here). "
        "Workers read the images from the same paths. Also the config key 'cluster'.",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, help="Worker processes, each with its own model (default: from cores and memory)."
    ),
]


class ImagesPerSecond(ProgressColumn):
    """The scan's recent rate, once there is one."""

    def render(self, task: Any) -> Text:
        return Text(f"{task.speed:.2f} images/s" if task.speed else "", style="progress.data.speed")


def configured_cluster() -> str | None:
    """The config file's ``cluster`` key (a Ray address), if any."""
    from fakescope_cli.models import config_value

    value = config_value("cluster")
    return str(value) if value else None


def parse_fail_on(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return FLAGGED
    chosen = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in VERDICTS]
    if unknown:
        error_line(f"--fail-on: unknown verdict {unknown[0]!r}; choose from {', '.join(VERDICTS)}")
        raise typer.Exit(EXIT_ERROR)
    return chosen


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="p(fake) decision threshold (see --band).")
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
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Write an HTML report per image and an index.html here."),
    ] = None,
    heatmap: Annotated[
        bool,
        typer.Option(
            "--map",
            help="Also judge a dense grid of native crops and keep the p(fake) heat map (crops-view "
            "models; shown in --report-dir reports and JSON).",
        ),
    ] = False,
    fail_on: FailOnOption = None,
    quiet: QuietOption = False,
    cache: CacheOption = True,
    workers: WorkersOption = None,
    cluster: ClusterOption = None,
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
    if evidence_only and heatmap:
        error_line("--map needs a model; drop --evidence-only")
        raise typer.Exit(EXIT_ERROR)
    output = OutputMode(as_json, as_jsonl, as_csv, quiet, parse_fail_on(fail_on))
    trust = read_trust_anchors(c2pa_trust)
    evidence_options = (
        EvidenceOptions(c2pa_trust_anchors=trust, figures=report_dir is not None) if evidence else None
    )
    options = ScanOptions(threshold=threshold, band=band, evidence=evidence_options, heatmap=heatmap)
    inputs = inputs_or_exit(paths)
    with open_cache(cache, quiet) as result_cache:
        spec = record = None
        if not evidence_only:
            with domain_errors():
                spec, record = resolve_model(model, mmproj, gpu_layers, threads, n_ctx, result_cache)
        if heatmap and record is not None and not record.crops_view and not quiet:
            warn("--map: this model judges whole images, not crops; no heat map is drawn")
        decoding = DecodingSettings(n_ctx=spec.load.n_ctx, gpu_layers=gpu_layers) if spec else None
        cluster = cluster or configured_cluster()
        results = run_scan(inputs, options, output, spec, record, result_cache, workers, report_dir, cluster)
    finish(results, output, record, decoding, options)


@contextmanager
def open_cache(enabled: bool, quiet: bool = False) -> Iterator[ResultCache | None]:
    """The results cache, or None when disabled or unusable (then the scan runs without it)."""
    if not enabled:
        yield None
        return
    from fakescope_cli.cache import CacheError, ResultCache, cache_path

    try:
        result_cache = ResultCache(cache_path())
    except CacheError as exc:
        if not quiet:
            warn(f"{exc}; scanning without the cache")
        yield None
        return
    try:
        yield result_cache
    finally:
        result_cache.close()


def run_scan(
    inputs: list[InputFile],
    options: ScanOptions,
    output: OutputMode,
    spec: ModelSpec | None,
    record: ModelRecord | None,
    result_cache: ResultCache | None = None,
    workers: int | None = None,
    report_dir: Path | None = None,
    cluster: str | None = None,
) -> list[ImageResult]:
    """Scan with a progress bar on a terminal's stderr; JSON Lines are written as each file finishes;
    per-image reports too, when a report folder is given."""
    from fakescope_cli.pipeline import ScanRun, default_workers

    count = workers or default_workers(spec)
    if spec is not None and count > 1 and spec.load.threads is None and cluster is None:
        from fakescope_cli.engine.threads import default_threads

        spec = replace(spec, load=replace(spec.load, threads=default_threads(count)))
    writer = _ReportWriter(report_dir, record, options) if report_dir is not None else None
    results: list[ImageResult] = []
    show = stderr.is_terminal and not output.quiet
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        ImagesPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not show,
    )
    crops_task: list[Any] = []

    def on_crops(path: str, done: int, total: int) -> None:
        """Heat-map progress within one image (a dense grid is many model calls)."""
        if not crops_task:
            crops_task.append(progress.add_task("heat map", total=total))
        label = f"heat map {safe(Path(path).name)}"
        progress.update(crops_task[0], completed=done, total=total, description=label, visible=done < total)

    with (
        progress,
        domain_errors(),
        ScanRun(options, spec, result_cache, count, on_crops, cluster, actors=workers) as run,
    ):
        task = progress.add_task("scanning", total=len(inputs))
        try:
            for result in run.results(inputs):
                if result.error and not output.quiet:
                    error_line(result.error)
                if writer is not None:
                    writer.add(result)
                if output.jsonl:
                    sys.stdout.write(jsonl_line(result, record) + "\n")
                    sys.stdout.flush()
                results.append(result)
                progress.advance(task)
        except KeyboardInterrupt:
            progress.stop()
            places = (
                ("in the results cache", result_cache is not None),
                ("printed as JSON lines", output.jsonl),
                ("written to the report folder", writer is not None),
            )
            kept = [where for where, on in places if on]
            stderr.print(
                f"interrupted: {len(results)} of {len(inputs)} images finished"
                + (f", kept {' and '.join(kept)}" if kept and results else "")
                + "; run the same command again to continue"
                + (" (finished images come from the cache)" if result_cache is not None else "")
            )
            raise
    if writer is not None:
        writer.finish(results)
    return results


class _ReportWriter:
    """Per-image HTML reports written as results arrive (their maps are dropped after), then the index."""

    def __init__(self, folder: Path, record: ModelRecord | None, options: ScanOptions) -> None:
        from fakescope_cli.report.model import RunContext

        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            error_line(f"{folder}: cannot create the report folder ({exc.strerror or exc})")
            raise typer.Exit(EXIT_ERROR) from None
        self.folder = folder
        self.context: RunContext = RunContext.now(record, None, options.threshold, options.band)
        self.links: dict[str, str] = {}

    def add(self, result: ImageResult) -> None:
        from fakescope_cli.report.build import complete_report
        from fakescope_cli.report.write import write_image_report

        report = complete_report(result, self.context)
        (written,) = write_image_report(report, self.folder, ("html",))
        self.links[result.path] = written.name
        if result.evidence is not None:
            result.evidence.figures = {}

    def finish(self, results: list[ImageResult]) -> None:
        from fakescope_cli.report.write import write_index

        write_index(results, self.links, self.context, self.folder)


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
    if record is not None and not (output.quiet or output.json or output.jsonl):
        print_caveat(record.caveat)  # once, on stderr (JSON carries it): stdout stays parseable
    raise typer.Exit(exit_code(results, output.fail_on))


def error_reason(result: ImageResult) -> str:
    """Why a file could not be analysed, without the path the row already shows."""
    text = result.error or ""
    prefix = f"{result.path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def print_table(results: list[ImageResult]) -> None:
    """A table on a terminal; tab-separated lines (header first) when piped, for grep and cut."""
    if not stdout.is_terminal:
        lines = ["path\tverdict\tp_fake\treason"]
        for r in results:
            path = inert_cell(r.path, spreadsheet=False)
            reason = inert_cell(r.fused.reason if r.fused else "", spreadsheet=False)
            p_fake = "-" if r.p_fake is None else f"{r.p_fake:.4f}"
            if r.error:
                reason = inert_cell(error_reason(r), spreadsheet=False)
            lines.append(f"{path}\t{'error' if r.error else r.verdict}\t{p_fake}\t{reason}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("path", overflow="fold")
    table.add_column("verdict")
    table.add_column("p(fake)", justify="right")
    table.add_column("why", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(safe(r.path), styled_verdict(None), "-", safe(error_reason(r)))
        else:
            p_fake = "-" if r.p_fake is None else f"{r.p_fake:.3f}"
            table.add_row(
                safe(r.path), styled_verdict(r.verdict), p_fake, safe(r.fused.reason if r.fused else "")
            )
    stdout.print(table)


scan.__doc__ = (
    "Score images: the probability that each was made by an AI generator, fused with the file's "
    f"evidence into one verdict. Results are cached per file and model, so re-scans only analyse "
    f"new or changed files.\n\n{EXIT_CODES_HELP}"
)
