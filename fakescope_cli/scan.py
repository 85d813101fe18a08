"""Scan files with a forensic model: one result per input, errors recorded, never fatal."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fakescope_cli.discovery import InputFile
from fakescope_cli.engine.base import ForensicModel
from fakescope_cli.errors import ImageInputError, InferenceError
from fakescope_cli.imageio import DEFAULT_MAX_PIXELS, load_image
from fakescope_cli.results import ImageResult

VERDICT_AI = "likely-ai"
VERDICT_REAL = "likely-real"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ScanOptions:
    threshold: float = DEFAULT_THRESHOLD
    max_pixels: int = DEFAULT_MAX_PIXELS


def model_verdict(p_fake: float, threshold: float) -> str:
    """The model-only verdict: at or above the threshold the image is flagged as likely AI-generated."""
    return VERDICT_AI if p_fake >= threshold else VERDICT_REAL


def scan_files(
    model: ForensicModel, inputs: Iterable[InputFile], options: ScanOptions
) -> Iterator[ImageResult]:
    for item in inputs:
        if item.error is not None:
            yield ImageResult(path=str(item.path), error=item.error)
            continue
        started = time.perf_counter()
        result = ImageResult(path=str(item.path))
        try:
            image = load_image(item.path, options.max_pixels)
            result.sha256, result.width, result.height, result.format = (
                image.sha256,
                image.width,
                image.height,
                image.format,
            )
            result.score = model.score(image)
            result.verdict = model_verdict(result.score.p_fake, options.threshold)
        except ImageInputError as exc:
            result.error = str(exc)
        except InferenceError as exc:
            result.error = f"{item.path}: {exc}"
        result.seconds = time.perf_counter() - started
        yield result
