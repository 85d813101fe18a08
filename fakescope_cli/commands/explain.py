"""`fakescope explain` and `fakescope ask`: the model's written rationale, or a free-form answer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from fakescope_cli.commands._common import (
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_FLAGGED,
    EXIT_OK,
    EXIT_UNREADABLE,
    BandOption,
    C2paTrustOption,
    ContextOption,
    GpuLayersOption,
    MmprojOption,
    ModelOption,
    ThreadsOption,
    domain_errors,
    error_line,
    model_caveat,
    model_record,
    open_engine,
    print_caveat,
    read_trust_anchors,
    safe,
    stderr,
    stdout,
)
from fakescope_cli.errors import ImageInputError, InferenceError
from fakescope_cli.evidence.fusion import DEFAULT_BAND, fuse
from fakescope_cli.evidence.next_steps import next_steps
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.formats import run_header
from fakescope_cli.imageio import DecodedImage, as_loaded, decode_image, read_image_file
from fakescope_cli.results import DecodingSettings, ImageResult
from fakescope_cli.scan import DEFAULT_THRESHOLD, model_verdict

if TYPE_CHECKING:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.formats import ModelRecord

T = TypeVar("T")

MaxTokensOption = Annotated[int, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens.")]
TemperatureOption = Annotated[
    float, typer.Option(min=0.0, help="0 = greedy (deterministic); above 0 samples with --seed.")
]
SeedOption = Annotated[int, typer.Option(help="Random seed for sampling.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="X,Y",
        help="Crops-view models: look at the crop whose top-left corner is pixel X,Y (default: the "
        "crop that scored highest).",
    ),
]


def parse_region(value: str | None) -> tuple[int, int] | None:
    """``X,Y`` (pixels, from the top-left corner) as a pair of whole numbers."""
    if value is None:
        return None
    parts = value.replace(" ", "").split(",")
    try:
        x, y = (int(part) for part in parts)
    except ValueError:
        error_line(f"--region: {value!r} is not X,Y in whole pixels (for example 640,480)")
        raise typer.Exit(EXIT_ERROR) from None
    if x < 0 or y < 0:
        error_line(f"--region: {value!r} must not be negative")
        raise typer.Exit(EXIT_ERROR)
    return x, y


def looked_at(engine: LlamaEngine, loaded, score, region: tuple[int, int] | None) -> dict[str, int] | None:
    box = engine.focus(loaded, score, region)
    return box.to_dict() if box is not None else None


def describe_region(box: dict[str, int] | None) -> str | None:
    if box is None:
        return None
    return f"looked at the crop x={box['x']}, y={box['y']} ({box['w']}x{box['h']} px)"


RATIONALE_NOTE = "The model's rationale, not proof: check the evidence it names."


ErrorBody = Callable[[str], dict[str, Any]]  # --json: the record printed for an image that failed


def _fail(message: str, error_body: ErrorBody | None) -> typer.Exit:
    """One line on stderr; with --json also the record with its ``error`` on stdout (as scan
    --json does); exit 3, like an unreadable input."""
    error_line(message)
    if error_body is not None:
        sys.stdout.write(json.dumps(error_body(message), indent=2, ensure_ascii=False) + "\n")
    return typer.Exit(EXIT_UNREADABLE)


@contextmanager
def _image_errors(image_path: Path, error_body: ErrorBody | None) -> Iterator[None]:
    """The model could not process this image."""
    try:
        yield
    except InferenceError as exc:
        raise _fail(f"{image_path}: {exc}", error_body) from None


def _load(image_path: Path, error_body: ErrorBody | None) -> tuple[bytes, DecodedImage]:
    try:
        data = read_image_file(image_path)
        return data, decode_image(image_path, data)
    except ImageInputError as exc:
        raise _fail(str(exc), error_body) from None


def _explain_error(image: Path, threshold: float, band: float) -> ErrorBody:
    def body(message: str) -> dict[str, Any]:
        result = ImageResult(str(image), error=message)
        header = run_header(None, None, threshold, band)
        return {**header, "result": result.to_dict(detailed=True), "note": RATIONALE_NOTE}

    return body


def _ask_error(image: Path, question: str) -> ErrorBody:
    def body(message: str) -> dict[str, Any]:
        header = run_header(None, None, DEFAULT_THRESHOLD)
        return {**header, "path": str(image), "sha256": None, "question": question, "answer": None,
                "region": None, "error": message}  # fmt: skip

    return body


def _run_model(
    image: Path,
    model: Path | None,
    mmproj: Path | None,
    gpu_layers: int,
    threads: int | None,
    n_ctx: int,
    temperature: float,
    seed: int,
    max_tokens: int,
    error_body: ErrorBody | None,
    work: Callable[[LlamaEngine, DecodingSettings], T],
) -> tuple[T, DecodingSettings, ModelRecord | None, str | None]:
    """Load the model once, run ``work`` on it, and return what JSON output must record, and the
    model's caveat."""
    from fakescope_cli.gguf_header import read_header

    with domain_errors():
        engine = open_engine(model, mmproj, gpu_layers, threads, n_ctx, seed)
        settings = DecodingSettings(temperature, seed, max_tokens, engine.native.n_ctx, gpu_layers)
        with engine, _image_errors(image, error_body):
            value = work(engine, settings)
            record = model_record(engine) if error_body is not None else None
        caveat = record.caveat if record else model_caveat(read_header(engine.files.text).metadata)
    return value, settings, record, caveat


def explain(
    image: Annotated[Path, typer.Argument(help="The image to examine.")],
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = DEFAULT_THRESHOLD,
    band: BandOption = DEFAULT_BAND,
    max_tokens: MaxTokensOption = 256,
    temperature: TemperatureOption = 0.0,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
    evidence: Annotated[
        bool, typer.Option("--evidence/--no-evidence", help="Also show the file's evidence.")
    ] = True,
    c2pa_trust: C2paTrustOption = None,
    region: RegionOption = None,
    gpu_layers: GpuLayersOption = 0,
    threads: ThreadsOption = None,
    n_ctx: ContextOption = 4096,
) -> None:
    """Verdict, p(fake), the file's evidence and the model's written reasoning for one image."""
    from fakescope_cli.commands.evidence import print_findings

    trust = read_trust_anchors(c2pa_trust)
    where = parse_region(region)
    error_body = _explain_error(image, threshold, band) if as_json else None
    data, decoded = _load(image, error_body)
    loaded = as_loaded(image, decoded)

    def work(engine: LlamaEngine, settings: DecodingSettings):
        score, text = engine.explain(loaded, settings, where)
        return score, text, looked_at(engine, loaded, score, where)

    (score, text, box), settings, record, caveat = _run_model(
        image, model, mmproj, gpu_layers, threads, n_ctx, temperature, seed, max_tokens, error_body, work,
    )  # fmt: skip
    result = ImageResult(
        str(image), None, score, loaded.sha256, loaded.width, loaded.height, loaded.format, explanation=text
    )
    result.region = box
    if evidence:
        from fakescope_cli.evidence.engine import gather_evidence  # numpy: only when used

        result.evidence = gather_evidence(image, data, decoded, EvidenceOptions(c2pa_trust_anchors=trust))
    result.model_verdict = model_verdict(score.p_fake, threshold)
    result.fused = fuse(result.evidence.items if result.evidence else [], score.p_fake, threshold, band)
    result.verdict = result.fused.verdict
    steps = next_steps(result.evidence.items if result.evidence else [], score.p_fake, threshold)
    if as_json and record is not None:
        body = {
            **run_header(record, settings, threshold, band),
            "result": result.to_dict(detailed=True),
            "note": RATIONALE_NOTE,
            "next_steps": steps,
        }
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        print_findings([result], report_style=True)
        stdout.print(f"  p(fake) = {score.p_fake:.3f} (model alone: {result.model_verdict})")
        if score.view is not None:
            crops = ", ".join(f"{c.p_fake:.2f}" for c in score.view.crops)
            stdout.print(f"  crops ({score.view.crop_size} px, {score.view.aggregate}): {crops}")
        print_caveat(caveat)
        stdout.print(f"\n[bold]Model rationale[/] [dim]({RATIONALE_NOTE})[/]")
        if box is not None:
            stdout.print(f"[dim]The model {describe_region(box)}.[/]")
        stdout.print(safe(text, keep_newlines=True) if text else "[dim](the model wrote nothing)[/]")
        stdout.print("\n[bold]What to check next[/] [dim](suggestions, not conclusions)[/]")
        for number, step in enumerate(steps, start=1):
            stdout.print(f"  {number}. {safe(step)}")
    raise typer.Exit(EXIT_FLAGGED if result.fused.flagged else EXIT_OK)


def ask(
    image: Annotated[Path, typer.Argument(help="The image to ask about.")],
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    max_tokens: MaxTokensOption = 256,
    temperature: TemperatureOption = 0.0,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
    region: RegionOption = None,
    gpu_layers: GpuLayersOption = 0,
    threads: ThreadsOption = None,
    n_ctx: ContextOption = 4096,
) -> None:
    """Ask the model a free-form question about one image."""
    where = parse_region(region)
    error_body = _ask_error(image, question) if as_json else None
    _data, decoded = _load(image, error_body)
    loaded = as_loaded(image, decoded)

    def work(engine: LlamaEngine, settings: DecodingSettings):
        score = engine.score(loaded) if engine.profile.is_crops and where is None else None
        answer = engine.ask(loaded, question, settings, where, score)
        return answer, looked_at(engine, loaded, score, where)

    (answer, box), settings, record, caveat = _run_model(
        image, model, mmproj, gpu_layers, threads, n_ctx, temperature, seed, max_tokens, error_body, work,
    )  # fmt: skip
    if as_json and record is not None:
        body = {
            **run_header(record, settings, DEFAULT_THRESHOLD),
            "path": str(image),
            "sha256": loaded.sha256,
            "question": question,
            "answer": answer,
            "region": box,
        }
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        stdout.print(safe(answer, keep_newlines=True) if answer else "[dim](the model wrote nothing)[/]")
        if box is not None:
            stderr.print(f"[dim]The model {describe_region(box)}.[/]")
        print_caveat(caveat)


explain.__doc__ = (
    "Verdict, p(fake), the file's evidence and the model's written reasoning for one image."
    f"\n\n{EXIT_CODES_HELP}"
)
