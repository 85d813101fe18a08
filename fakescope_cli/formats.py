"""Machine-readable output: JSON report, JSON Lines, CSV. Renderers only read results."""

from __future__ import annotations

import csv
import io
import json
import platform
from dataclasses import asdict, dataclass
from typing import Any

from fakescope_cli import __version__
from fakescope_cli.results import RESULT_SCHEMA, DecodingSettings, ImageResult
from fakescope_cli.textsafe import printable

CSV_FIELDS = [
    "path",
    "verdict",
    "p_fake",
    "model_verdict",
    "reason",
    "error",
    "sha256",
    "width",
    "height",
    "format",
]


@dataclass(frozen=True)
class ModelRecord:
    """Which model produced a result, precisely enough to reproduce it."""

    text: str
    text_sha256: str
    mmproj: str
    mmproj_sha256: str
    profile: str
    label_fake: str
    label_real: str
    judge_prompt: str
    text_file_type: str | None = None
    mmproj_file_type: str | None = None
    caveat: str | None = None  # the model card's one line (fakescope.card.caveat), made safe
    view: str = "whole"  # "whole", or "crops" with crop_size, crops and aggregate below
    crop_size: int | None = None
    crops: int | None = None
    aggregate: str | None = None

    @property
    def crops_view(self) -> bool:
        return self.view == "crops"


def run_header(
    model: ModelRecord | None, decoding: DecodingSettings | None, threshold: float, band: float | None = None
) -> dict[str, Any]:
    """What every JSON report starts with; ``model`` is None for evidence-only runs."""
    header: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "tool": {"name": "fakescope", "version": __version__, "python": platform.python_version()},
        "model": asdict(model) if model else None,
        "decoding": asdict(decoding) if decoding else None,
        "threshold": threshold,
    }
    if band is not None:
        header["band"] = band
    return header


def json_report(header: dict[str, Any], results: list[ImageResult]) -> str:
    summary: dict[str, int] = {}
    for result in results:
        key = "error" if result.error else (result.verdict or "error")
        summary[key] = summary.get(key, 0) + 1
    body = {**header, "summary": summary, "results": [r.to_dict(detailed=True) for r in results]}
    return json.dumps(body, indent=2, ensure_ascii=False)


def jsonl_line(result: ImageResult, model: ModelRecord | None) -> str:
    data = result.to_dict()
    data["schema"] = RESULT_SCHEMA
    data["model_sha256"] = model.text_sha256 if model else None
    data["mmproj_sha256"] = model.mmproj_sha256 if model else None
    data["model_caveat"] = model.caveat if model else None
    return json.dumps(data, ensure_ascii=False)


def inert_cell(value: Any, spreadsheet: bool = True) -> Any:
    """A cell for CSV (``spreadsheet``: never read as a formula) or for TSV lines meant for grep and
    cut (file names kept as they are); control characters are escaped in both."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    if spreadsheet and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def csv_text(results: list[ImageResult]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for result in results:
        row = {key: inert_cell(value) for key, value in result.to_dict().items()}
        writer.writerow(row)
    return buffer.getvalue()
