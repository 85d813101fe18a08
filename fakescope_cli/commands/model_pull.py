"""`fakescope model pull|remove` and `model list --available`: the only commands that touch the network
(pull) or delete models (remove); both say what they will do and ask first."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from fakescope_cli.commands._common import EXIT_ERROR, domain_errors, error_line, safe, stderr, stdout
from fakescope_cli.textsafe import printable

if TYPE_CHECKING:
    from fakescope_cli.hub_pull import PullPlan


def tsv_line(*cells: object) -> None:
    """One tab-separated line on stdout for scripts (each cell escaped, so a tab inside stays one)."""
    sys.stdout.write("\t".join(printable(cell) for cell in cells) + "\n")


def models_dir() -> Path:
    from fakescope_cli import paths

    return paths.models_dirs()[0]


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _confirm(question: str, yes: bool, what: str) -> None:
    """Ask on a terminal; without one, only ``--yes`` goes ahead (exit 2 otherwise)."""
    if yes:
        return
    if not sys.stdin.isatty():
        error_line(f"not asking on a non-terminal: pass --yes to {what}")
        raise typer.Exit(EXIT_ERROR)
    if not typer.confirm(question, default=False, err=True):
        stderr.print("nothing done")
        raise typer.Exit(EXIT_ERROR)


def _describe_plan(plan: PullPlan) -> None:
    title = plan.entry.title if plan.entry else plan.source.ref.repo
    stderr.print(f"[bold]{safe(title)}[/]")
    stderr.print(f"  from {safe(plan.source.ref)} (commit {safe(plan.source.commit[:12])})")
    main = [f for f in plan.files if f.repo == plan.source.ref.repo]
    stderr.print(f"  download: {_gb(sum(f.size for f in main))} in {len(main)} files")
    if plan.extra is not None:
        extra = [f for f in plan.files if f.repo != plan.source.ref.repo]
        names = ", ".join(f.name for f in extra) or "nothing missing"
        stderr.print(
            f"  tokenizer and processor files from {safe(plan.extra.ref)} "
            f"(commit {safe(plan.extra.commit[:12])}): {safe(names)}"
        )
    if plan.have_bytes:
        stderr.print(f"  already here from an earlier try: {_gb(plan.have_bytes)} (resumed)")
    from fakescope_cli.hub import free_bytes

    stderr.print(
        f"  disk: about {_gb(plan.disk_bytes)} needed in {safe(plan.models_dir)} while converting "
        f"({_gb(free_bytes(plan.models_dir))} free); about {_gb(plan.installed_bytes)} stays installed"
    )
    stderr.print(
        f"  then: convert here with the {safe(plan.profile or 'default')} profile, text model to "
        f"{safe(plan.quant)}, check, install as [bold]{safe(plan.name)}[/]"
    )
    if plan.card and plan.card.caveat:
        stderr.print(f"  [yellow]caveat:[/] {safe(plan.card.caveat)}")


def pull(
    source: Annotated[
        str,
        typer.Argument(
            help="A catalogue name (see 'model list --available'), hf:OWNER/REPO[@REVISION], or the "
            "http(s) URL of a NAME.manifest.json written by the converter."
        ),
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before downloading (scripts).")
    ] = False,
    quant: Annotated[
        str | None,
        typer.Option(help="Text model type after conversion (default: the catalogue's, else q4_k_m)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="Converter profile (a bundled name such as fakevlm, or a TOML path).")
    ] = None,
    tokenizer_from: Annotated[
        str | None,
        typer.Option(
            help="hf:OWNER/REPO[@REV] to take tokenizer and processor files from, when the "
            "repository lacks them (as fine-tuned checkpoints often do)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Install under this name.")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the downloaded checkpoint after conversion.")] = False,
) -> None:
    """Download a model (only when asked): a published checkpoint from the hub, converted here, or a
    converted model by its manifest URL. Resumes; installs nothing unless every file checks out."""
    if "://" in source:  # a URL: only http(s) manifests are pulled (the downloader refuses the rest)
        with _interrupt_says("the same command resumes the download"):
            _pull_manifest(source)
        return
    from fakescope_cli.hub_pull import check_disk, plan_pull, run_pull

    target = models_dir()
    with _interrupt_says("nothing was downloaded"), domain_errors():
        plan = plan_pull(
            source, target, quant=quant, profile=profile, tokenizer_from=tokenizer_from, name=name
        )
    _describe_plan(plan)
    with domain_errors():
        check_disk(plan)
    _confirm(f"Download {_gb(plan.to_fetch_bytes)} and convert?", yes, f"download {_gb(plan.to_fetch_bytes)}")
    resume = f"what was downloaded stays in {plan.staging} and the same command resumes it"
    with (
        _interrupt_says(resume, installed=plan.models_dir / f"{plan.name}.manifest.json"),
        _PullDisplay(plan.download_bytes) as display,
        domain_errors(),
    ):
        stderr.print(f"downloading into {safe(plan.staging)}")
        result = run_pull(plan, progress=display.progress, stage=display.stage, keep=keep)
    for path in result.installed:
        stdout.print(f"installed {safe(path)}")
    if result.kept is not None:
        stdout.print(f"kept the downloaded checkpoint in {safe(result.kept)}")


@contextlib.contextmanager
def _interrupt_says(what: str, installed: Path | None = None) -> Iterator[None]:
    """Ctrl-C: one line saying where things stand (installed or not, what is kept), exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        if installed is not None and installed.is_file():
            error_line(
                f"interrupted after the model was installed ({installed}); leftovers may stay in .pulls/"
            )
        else:
            error_line(f"interrupted: nothing was installed; {what}")
        raise typer.Exit(130) from None


class _PullDisplay:
    """On a terminal: a byte bar (speed, time left) while downloading, then a spinner with the
    elapsed time for each step that has no byte count (converting, checking). Elsewhere: lines."""

    def __init__(self, total_bytes: int):
        self.enabled = stderr.is_terminal
        self.bytes = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr,
            disable=not self.enabled,
            transient=True,
        )
        self.steps = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=stderr,
            disable=not self.enabled, transient=True,
        )  # fmt: skip
        self.task = self.bytes.add_task("download", total=total_bytes)
        self.done: dict[str, int] = {}
        self.step: TaskID | None = None

    def __enter__(self) -> _PullDisplay:
        self.bytes.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bytes.stop()
        self.steps.stop()

    def progress(self, file_name: str, got: int, _total: int | None) -> None:
        self.done[file_name] = got
        self.bytes.update(self.task, completed=sum(self.done.values()), description=safe(file_name))

    def stage(self, message: str) -> None:
        self.bytes.stop()
        stderr.print(safe(message))
        if self.step is not None:
            self.steps.update(self.step, visible=False)
        else:
            self.steps.start()
        self.step = self.steps.add_task(safe(message.split(" (")[0]), total=None)


def _pull_manifest(url: str) -> None:
    from fakescope_cli.install import pull as pull_model

    target = models_dir()
    reported: dict[str, int] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        step = done // (64 << 20)
        if reported.get(name) != step:
            reported[name] = step
            suffix = f" of {total / 2**20:.0f} MiB" if total else ""
            stderr.print(f"{safe(name)}: {done / 2**20:.0f} MiB{suffix}")

    with domain_errors():
        fetched = pull_model(url, target, progress if stderr.is_terminal else None)
    for path in fetched:
        stdout.print(f"installed {safe(path)}")


def remove(
    name: Annotated[str, typer.Argument(help="Model name, as 'fakescope model list' shows it.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (scripts).")] = False,
) -> None:
    """Delete an installed model (its two GGUFs and manifest) from the models folder."""
    from fakescope_cli.install import list_models, remove_model

    target = models_dir()
    installed = {m.name: m for m in list_models(target)}
    with domain_errors():
        if name not in installed:
            remove_model(name, target)  # raises: names what is installed
    model = installed[name]
    _confirm(f"Delete {name} ({_gb(model.bytes)}) from {target}?", yes, f"delete {name}")
    with domain_errors():
        removed = remove_model(name, target)
    for path in removed:
        stdout.print(f"removed {safe(path)}")


def list_available() -> None:
    """The catalogue: known published models, what they download and install, and their caveat."""
    from fakescope_cli.catalogue import load_catalogue
    from fakescope_cli.install import list_models

    with domain_errors():
        catalogue = load_catalogue()
    installed = {m.name for m in list_models(models_dir())}
    if not stdout.is_terminal:
        for entry in catalogue.values():
            tsv_line(
                entry.name,
                entry.source,
                entry.download_bytes,
                entry.installed_bytes,
                "installed" if entry.name in installed else "-",
                entry.card.caveat or "",
            )
        return
    table = Table(title="models 'fakescope model pull NAME' knows", title_justify="left", show_edge=False)
    for column in ("name", "model", "source", "download", "installed", "caveat"):
        table.add_column(column, overflow="fold")
    for entry in catalogue.values():
        size = _gb(entry.installed_bytes) + (" [green](here)[/]" if entry.name in installed else "")
        table.add_row(
            safe(entry.name),
            safe(entry.title),
            safe(entry.source),
            _gb(entry.download_bytes),
            size,
            safe(entry.card.caveat or ""),
        )
    stdout.print(table)
