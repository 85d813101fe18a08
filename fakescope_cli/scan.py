"""Scan files: evidence and (when a model is given) p(fake), fused into one verdict per file.

One result per input; errors are recorded in the result, never raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fakescope_cli.discovery import InputFile
from fakescope_cli.engine.base import ForensicModel
from fakescope_cli.errors import ImageInputError, InferenceError
from fakescope_cli.evidence.fusion import DEFAULT_BAND, fuse
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.imageio import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    as_loaded,
    decode_image,
    read_image_file,
)
from fakescope_cli.results import ImageResult

MODEL_AI = "likely-ai"
MODEL_REAL = "likely-real"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ScanOptions:
    threshold: float = DEFAULT_THRESHOLD
    band: float = DEFAULT_BAND
    max_pixels: int = DEFAULT_MAX_PIXELS
    evidence: EvidenceOptions | None = field(default_factory=EvidenceOptions)  # None: skip evidence
    heatmap: bool = False  # --map: also judge a dense grid of crops (crops-view models)


# Called with (path, crops done, crops in all) while a heat map is judged.
CropProgress = Callable[[str, int, int], None]


def model_verdict(p_fake: float, threshold: float) -> str:
    """The model-only verdict at the plain threshold (no band, no evidence)."""
    return MODEL_AI if p_fake >= threshold else MODEL_REAL


def analyse_file(
    model: ForensicModel | None,
    item: InputFile,
    options: ScanOptions,
    data: bytes | None = None,
    on_crops: CropProgress | None = None,
) -> ImageResult:
    """Evidence, then the model's score (when ``model`` is given), then the fused verdict.

    ``data`` is the file's bytes when the caller has already read them."""
    result = ImageResult(path=str(item.path))
    if item.error is not None:
        result.error = item.error
        return result
    started = time.perf_counter()
    if data is None:
        try:
            data = read_image_file(item.path)
        except ImageInputError as exc:
            result.error = str(exc)
            result.seconds = time.perf_counter() - started
            return result
    decoded: DecodedImage | ImageInputError
    try:
        decoded = decode_image(item.path, data, options.max_pixels)
    except ImageInputError as exc:
        decoded = exc
    if options.evidence is not None:
        from fakescope_cli.evidence.engine import gather_evidence  # numpy: only when used

        result.evidence = gather_evidence(item.path, data, decoded, options.evidence)
    if isinstance(decoded, ImageInputError):
        result.error = str(decoded)
        result.seconds = time.perf_counter() - started
        return result
    result.sha256, result.format = decoded.sha256, decoded.format
    result.width, result.height = decoded.rgb.size
    if model is not None:
        loaded = as_loaded(item.path, decoded)
        try:
            result.score = model.score(loaded)
            if options.heatmap:
                path = str(item.path)
                progress = (lambda done, total: on_crops(path, done, total)) if on_crops else None
                result.heatmap = model.score_map(loaded, progress)
        except InferenceError as exc:
            result.error = f"{item.path}: {exc}"
            result.seconds = time.perf_counter() - started
            return result
    apply_verdict(result, options)
    result.seconds = time.perf_counter() - started
    return result


def apply_verdict(result: ImageResult, options: ScanOptions) -> None:
    """Fuse the result's evidence and score into its verdict (also for results read from the cache)."""
    if result.score is not None:
        result.model_verdict = model_verdict(result.score.p_fake, options.threshold)
    items = result.evidence.items if result.evidence is not None else []
    result.fused = fuse(items, result.p_fake, options.threshold, options.band)
    result.verdict = result.fused.verdict


def scan_files(
    model: ForensicModel | None, inputs: Iterable[InputFile], options: ScanOptions
) -> Iterator[ImageResult]:
    for item in inputs:
        yield analyse_file(model, item, options)
