"""The per-image report as data: the result, the chain of custody, thumbnail and figures.

Renderers (JSON, HTML, Markdown) only read an :class:`ImageReport`.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import platform
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from fakescope_cli import __version__
from fakescope_cli.formats import ModelRecord
from fakescope_cli.results import DecodingSettings, ImageResult

REPORT_SCHEMA = "fakescope.report/2"
RATIONALE_NOTE = "The model's rationale, not proof: check the evidence it names."
THUMBNAIL_SIDE = 512


@dataclass(frozen=True)
class RunContext:
    """What made every report of one run: tool, command line, machine, model and settings."""

    command_line: str
    utc_time: str
    os: str
    python: str
    llama_cpp_python: str | None
    model: ModelRecord | None
    decoding: DecodingSettings | None
    threshold: float
    band: float

    @staticmethod
    def now(
        model: ModelRecord | None, decoding: DecodingSettings | None, threshold: float, band: float
    ) -> RunContext:
        try:
            from importlib.metadata import version

            llama_version: str | None = version("llama-cpp-python")
        except Exception:
            llama_version = None
        return RunContext(
            command_line=shlex.join(["fakescope", *sys.argv[1:]]),
            utc_time=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            os=platform.platform(),
            python=platform.python_version(),
            llama_cpp_python=llama_version,
            model=model,
            decoding=decoding,
            threshold=threshold,
            band=band,
        )


@dataclass
class ImageReport:
    result: ImageResult
    context: RunContext
    file_bytes: int | None = None
    file_times: dict[str, str] = field(default_factory=dict)
    thumbnail_jpeg: bytes | None = None
    questions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # caveats particular to this report
    view_figures: dict[str, bytes] = field(default_factory=dict)  # "heatmap", "crops": where it looked

    @property
    def figures(self) -> dict[str, bytes]:
        return self.result.evidence.figures if self.result.evidence else {}

    @property
    def phash(self) -> str | None:
        item = self.result.evidence.find("hash.phash") if self.result.evidence else None
        return str(item.value) if item else None

    def next_steps(self) -> list[str]:
        """What to check next, from this file's findings (none for a file that was not analysed)."""
        from fakescope_cli.evidence.next_steps import next_steps

        r = self.result
        if r.error is not None:
            return []
        items = r.evidence.items if r.evidence else []
        return next_steps(items, r.p_fake, self.context.threshold)

    def caveats(self) -> list[str]:
        notes = list(self.notes)
        if self.context.model is None:
            notes.append("No model ran: the verdict rests on the file's own evidence alone.")
        else:
            notes.append(
                "p(fake) is one model's opinion; it is least reliable on generators and processing it "
                "was not trained on."
            )
        if self.result.explanation is not None or self.questions:
            notes.append(RATIONALE_NOTE)
        notes.append("Metadata can be forged or stripped: its absence proves nothing.")
        return notes

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        context = self.context
        return {
            "schema": REPORT_SCHEMA,
            "image": {
                "path": r.path,
                "name": Path(r.path).name,
                "bytes": self.file_bytes,
                "sha256": r.sha256,
                "phash": self.phash,
                "width": r.width,
                "height": r.height,
                "format": r.format,
                "file_times": self.file_times,
            },
            "verdict": {
                "verdict": r.verdict,
                "reason": r.fused.reason if r.fused else None,
                "decided_by": r.fused.decided_by if r.fused else [],
                "p_fake": r.p_fake,
                "model_verdict": r.model_verdict,
                "threshold": context.threshold,
                "band": context.band,
                "model_caveat": context.model.caveat if context.model else None,
            },
            "evidence": r.evidence.to_dict() if r.evidence else None,
            "view": r.score.view.to_dict() if r.score and r.score.view else None,
            "map": r.heatmap.to_dict() if r.heatmap else None,
            "region": r.region,
            "rationale": r.explanation,
            "questions": self.questions,
            "next_steps": self.next_steps(),
            "caveats": self.caveats(),
            "error": r.error,
            "custody": {
                "tool": {"name": "fakescope", "version": __version__},
                "command_line": context.command_line,
                "utc_time": context.utc_time,
                "os": context.os,
                "python": context.python,
                "llama_cpp_python": context.llama_cpp_python,
                "model": asdict(context.model) if context.model else None,
                "decoding": asdict(context.decoding) if context.decoding else None,
            },
        }


def file_facts(path: Path) -> tuple[int | None, dict[str, str]]:
    """Size and times (UTC, ISO 8601) of the file as found; times a file system lacks are left out."""
    try:
        info = path.stat()
    except OSError:
        return None, {}

    def iso(seconds: float) -> str:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="seconds")

    times = {
        "modified": iso(info.st_mtime),
        "metadata_changed": iso(info.st_ctime),
        "accessed": iso(info.st_atime),
    }
    birth = getattr(info, "st_birthtime", None)
    if birth:
        times["created"] = iso(birth)
    return info.st_size, times


def thumbnail(rgb: Image.Image) -> bytes:
    small = rgb.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def report_stem(path: str, sha256: str | None) -> str:
    """NAME.CONTENT8-PATH6 for files written about an image: the name reduced to letters, digits,
    '-' and '_' and cut to 100 bytes; the content hash and a hash of the full path keep two images
    (or one image at two paths) apart."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem) or "image"
    while len(name.encode("utf-8", "surrogateescape")) > 100:
        name = name[:-1]
    where = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{name}.{(sha256 or 'unread')[:8]}-{where}"


def display_name(path: str) -> str:
    """The file name for headings; the full path stays in the custody block."""
    return os.path.basename(path) or path
