"""What every command shares: consoles, safe text, exit codes, model loading, error mapping."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from fakescope_cli.errors import FakeScopeError
from fakescope_cli.textsafe import printable

if TYPE_CHECKING:
    from fakescope_cli.cache import ResultCache
    from fakescope_cli.discovery import InputFile
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.formats import ModelRecord
    from fakescope_cli.pipeline import ModelSpec
    from fakescope_cli.profile import ModelProfile
    from fakescope_cli.results import ImageResult

EXIT_OK = 0
EXIT_FLAGGED = 1
EXIT_ERROR = 2
EXIT_UNREADABLE = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 nothing flagged; 1 at least one image flagged (verdict ai-generated or likely-ai); "
    "2 usage or model error; 3 some inputs could not be read (the rest were scanned; 3 wins over 1)."
)

# emoji=False: a ":lock:" written in a file's metadata must print as those characters, not as a
# padlock the file never held
stdout = Console(highlight=False, soft_wrap=True, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def safe(text: object, keep_newlines: bool = False) -> str:
    """:func:`printable`, and Rich markup escaped: for anything printed through Rich."""
    return escape(printable(text, keep_newlines))


def inputs_or_exit(paths: Sequence[Path]) -> list[InputFile]:
    """The images to analyse under ``paths``. A path that does not exist is a usage error (exit 2,
    before anything runs: a typo must not read as "nothing flagged"), and so is finding no image at
    all (exit 2, not 0)."""
    from fakescope_cli.discovery import discover

    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    for path in missing:
        error_line(f"{path}: no such file or folder")
    if missing:
        raise typer.Exit(EXIT_ERROR)
    inputs = list(discover(paths))
    if not inputs:
        error_line(f"no images found in {', '.join(map(str, paths))}")
        raise typer.Exit(EXIT_ERROR)
    return inputs


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {safe(message)}")


def error_line(message: str) -> None:
    stderr.print(f"[red]error:[/] {safe(message)}")


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a library error into one line on stderr and exit code 2."""
    try:
        yield
    except FakeScopeError as exc:
        logging.getLogger("fakescope_cli").debug("traceback (FAKESCOPE_DEBUG=1)", exc_info=True)
        error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None


ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model", "-m", help="Text GGUF, a folder holding one model pair, or an installed model's name."
    ),
]
MmprojOption = Annotated[Path | None, typer.Option("--mmproj", help="Vision projector GGUF (mmproj).")]
GpuLayersOption = Annotated[
    int, typer.Option("--gpu-layers", help="Layers to offload to Metal/CUDA (needs a GPU build; -1 = all).")
]
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", help="CPU threads (default: the cores no other program is using).")
]
ContextOption = Annotated[int, typer.Option("--n-ctx", help="Context length in tokens.", min=256)]
BandOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.5,
        help="Half-width of the inconclusive band around the threshold (0 = plain threshold).",
    ),
]
C2paTrustOption = Annotated[
    Path | None,
    typer.Option("--c2pa-trust", help="PEM file of trusted C2PA signing roots (default: no trust list)."),
]


def exit_code(results: list[ImageResult], fail_on: tuple[str, ...] | None = None) -> int:
    """3 when any input could not be read, else 1 when any verdict is in ``fail_on`` (default:
    ai-generated, likely-ai), else 0."""
    from fakescope_cli.evidence.fusion import FLAGGED

    if any(r.error for r in results):
        return EXIT_UNREADABLE
    if any(r.verdict in (fail_on or FLAGGED) for r in results):
        return EXIT_FLAGGED
    return EXIT_OK


def read_trust_anchors(path: Path | None) -> str | None:
    """The PEM text of ``--c2pa-trust``; a bad file is a usage error (exit 2)."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        error_line(f"{path}: cannot read the trust list ({exc})")
        raise typer.Exit(EXIT_ERROR) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        error_line(f"{path}: not a PEM certificate file")
        raise typer.Exit(EXIT_ERROR)
    return text


def open_engine(
    model: Path | None, mmproj: Path | None, gpu_layers: int, threads: int | None, n_ctx: int, seed: int = 0
) -> LlamaEngine:
    """Locate, validate and load the model pair (one load per process)."""
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.models import locate_model, validate_pair

    files = locate_model(model, mmproj)
    validated = validate_pair(files)
    n_ctx_train = validated.text.metadata.get(f"{validated.text.architecture}.context_length")
    if isinstance(n_ctx_train, int) and 0 < n_ctx_train < n_ctx:
        n_ctx = n_ctx_train
    verbose = logging.getLogger("fakescope_cli").isEnabledFor(logging.DEBUG)
    options = LoadOptions(n_ctx=n_ctx, gpu_layers=gpu_layers, threads=threads, seed=seed, verbose=verbose)
    return LlamaEngine(files, options)


def resolve_model(
    model: Path | None,
    mmproj: Path | None,
    gpu_layers: int,
    threads: int | None,
    n_ctx: int,
    cache: ResultCache | None = None,
) -> tuple[ModelSpec, ModelRecord]:
    """Locate and validate the model pair and hash its files, without loading it (workers and
    cache hits may never need it here)."""
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.formats import ModelRecord
    from fakescope_cli.models import file_sha256, locate_model, validate_pair
    from fakescope_cli.pipeline import ModelSpec
    from fakescope_cli.profile import profile_from_metadata

    digest = cache.file_sha256 if cache is not None else file_sha256
    files = locate_model(model, mmproj, digest=digest)
    validated = validate_pair(files)
    n_ctx_train = validated.text.metadata.get(f"{validated.text.architecture}.context_length")
    if isinstance(n_ctx_train, int) and 0 < n_ctx_train < n_ctx:
        n_ctx = n_ctx_train
    text_sha, mmproj_sha = digest(files.text), digest(files.mmproj)
    profile, _ = profile_from_metadata({k: str(v) for k, v in validated.text.metadata.items()})
    record = ModelRecord(
        text=str(files.text),
        text_sha256=text_sha,
        mmproj=str(files.mmproj),
        mmproj_sha256=mmproj_sha,
        profile=profile.name,
        label_fake=profile.label_fake,
        label_real=profile.label_real,
        judge_prompt=profile.judge_prompt,
        **view_fields(profile),
        text_file_type=validated.text.file_type,
        mmproj_file_type=validated.mmproj.file_type,
        caveat=model_caveat(validated.text.metadata),
    )
    verbose = logging.getLogger("fakescope_cli").isEnabledFor(logging.DEBUG)
    load = LoadOptions(n_ctx=n_ctx, gpu_layers=gpu_layers, threads=threads, verbose=verbose)
    return ModelSpec(files, load, f"{text_sha}:{mmproj_sha}"), record


def model_record(engine: LlamaEngine) -> ModelRecord:
    from fakescope_cli.formats import ModelRecord
    from fakescope_cli.gguf_header import read_header
    from fakescope_cli.models import file_sha256

    profile = engine.profile
    text_header = read_header(engine.files.text)
    return ModelRecord(
        text=str(engine.files.text),
        text_sha256=file_sha256(engine.files.text),
        mmproj=str(engine.files.mmproj),
        mmproj_sha256=file_sha256(engine.files.mmproj),
        profile=profile.name,
        label_fake=profile.label_fake,
        label_real=profile.label_real,
        judge_prompt=profile.judge_prompt,
        **view_fields(profile),
        text_file_type=text_header.file_type,
        mmproj_file_type=read_header(engine.files.mmproj).file_type,
        caveat=model_caveat(text_header.metadata),
    )


def view_fields(profile: ModelProfile) -> dict[str, Any]:
    """The view part of a :class:`ModelRecord`."""
    if not profile.is_crops:
        return {"view": profile.view}
    return {
        "view": profile.view,
        "crop_size": profile.crop_size,
        "crops": profile.crops,
        "aggregate": profile.aggregate,
    }


def model_caveat(metadata: Mapping[str, object]) -> str | None:
    """The model card's caveat line, or None when the model has no card."""
    from fakescope_cli.card import card_from_metadata

    card = card_from_metadata(metadata)
    return card.caveat if card else None


def print_caveat(caveat: str | None) -> None:
    """The model's caveat, once, on stderr (stdout stays data only when piped)."""
    if caveat:
        stderr.print(f"[yellow]model caveat:[/] {safe(caveat)}")


VERDICT_STYLE = {
    "ai-generated": "bold red",
    "likely-ai": "red",
    "inconclusive": "yellow",
    "likely-real": "green",
    "camera-original": "bold green",
}


def styled_verdict(verdict: str | None) -> str:
    if verdict is None:
        return "[red]error[/]"
    return f"[{VERDICT_STYLE.get(verdict, 'white')}]{safe(verdict)}[/]"
