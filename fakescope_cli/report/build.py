"""Build one image's report: evidence with figures, the model's score, rationale and answers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from fakescope_cli.engine.base import ForensicModel
from fakescope_cli.errors import ImageInputError, InferenceError
from fakescope_cli.evidence.fusion import fuse
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.imageio import DecodedImage, as_loaded, decode_image, read_image_file
from fakescope_cli.report.model import ImageReport, RunContext, file_facts, thumbnail
from fakescope_cli.results import DecodingSettings, ImageResult
from fakescope_cli.scan import model_verdict


def view_figures(rgb: Image.Image, result: ImageResult) -> dict[str, bytes]:
    """The pictures of where a crops-view model looked: the heat map and the judged crops."""
    from fakescope_cli.report.heatmap import crops_png, heatmap_png

    figures = {}
    if result.heatmap is not None:
        figures["heatmap"] = heatmap_png(rgb, result.heatmap.cells)
    if result.score is not None and result.score.view is not None:
        figures["crops"] = crops_png(rgb, result.score.view.crops)
    return figures


def build_report(
    path: Path,
    context: RunContext,
    model: ForensicModel | None = None,
    questions: tuple[str, ...] = (),
    evidence: EvidenceOptions | None = None,
    heatmap: bool = False,
    region: tuple[int, int] | None = None,
    on_crops: Callable[[int, int], None] | None = None,
) -> ImageReport:
    """Never raises for a bad image: the problem is recorded in ``result.error``. ``heatmap``: also
    judge the dense grid of crops; ``region``: the crop explain and the questions look at."""
    started = time.perf_counter()
    result = ImageResult(path=str(path))
    size, times = file_facts(path)
    report = ImageReport(result, context, size, times)
    options = evidence or EvidenceOptions(figures=True)
    try:
        data = read_image_file(path)
    except ImageInputError as exc:
        result.error = str(exc)
        return report
    decoded: DecodedImage | ImageInputError
    try:
        decoded = decode_image(path, data)
    except ImageInputError as exc:
        decoded = exc
    from fakescope_cli.evidence.engine import gather_evidence  # numpy: only when used

    result.evidence = gather_evidence(path, data, decoded, options)
    if isinstance(decoded, ImageInputError):
        result.error = str(decoded)
        return report
    result.sha256, result.format = decoded.sha256, decoded.format
    result.width, result.height = decoded.rgb.size
    report.thumbnail_jpeg = thumbnail(decoded.rgb)
    if model is not None:
        settings = context.decoding or DecodingSettings()
        loaded = as_loaded(path, decoded)
        try:
            result.score, result.explanation = model.explain(loaded, settings, region)
            box = model.focus(loaded, result.score, region)
            result.region = box.to_dict() if box else None
            for question in questions:
                answer = model.ask(loaded, question, settings, region, result.score)
                report.questions.append({"question": question, "answer": answer})
            if heatmap:
                result.heatmap = model.score_map(loaded, on_crops)
        except InferenceError as exc:
            result.error = f"{path}: {exc}"
            return report
        report.view_figures = view_figures(decoded.rgb, result)
        result.model_verdict = model_verdict(result.score.p_fake, context.threshold)
    result.fused = fuse(result.evidence.items, result.p_fake, context.threshold, context.band)
    result.verdict = result.fused.verdict
    result.seconds = time.perf_counter() - started
    return report


def complete_report(
    result: ImageResult, context: RunContext, options: EvidenceOptions | None = None
) -> ImageReport:
    """A report for a result a scan already produced: file facts, a thumbnail, and the signal maps
    when the result came from the cache without them. A file that changed since it was analysed
    gets neither thumbnail nor maps, and a caveat saying so."""
    path = Path(result.path)
    size, times = file_facts(path)
    report = ImageReport(result, context, size, times)
    if result.error is not None:
        return report
    try:
        data = read_image_file(path)
        if hashlib.sha256(data).hexdigest() != result.sha256:
            report.notes.append(
                "The file changed after it was analysed: its size and times here describe the new file."
            )
            return report
        decoded = decode_image(path, data)
    except ImageInputError:
        report.notes.append("The file could no longer be read when the report was written.")
        return report
    report.thumbnail_jpeg = thumbnail(decoded.rgb)
    report.view_figures = view_figures(decoded.rgb, result)
    if result.evidence is not None and not result.evidence.figures:
        from fakescope_cli.evidence.engine import gather_evidence  # numpy: only when used

        fresh = gather_evidence(path, data, decoded, options or EvidenceOptions(figures=True))
        result.evidence.figures = fresh.figures
    return report
