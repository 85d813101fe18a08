"""Write an image's report in the chosen formats, and the folder index; every file atomically."""

from __future__ import annotations

import json
from pathlib import Path

from fakescope_cli.report.atomic import atomic_write
from fakescope_cli.report.model import ImageReport, RunContext
from fakescope_cli.report.render_html import render_image_html, render_index_html, report_file_name
from fakescope_cli.report.render_md import render_image_markdown
from fakescope_cli.results import ImageResult

FORMATS = ("html", "md", "json")


def write_image_report(report: ImageReport, folder: Path, formats: tuple[str, ...]) -> list[Path]:
    written = []
    for fmt in formats:
        target = folder / report_file_name(report.result, fmt)
        if fmt == "html":
            text = render_image_html(report)
        elif fmt == "md":
            text = render_image_markdown(report)
        else:
            text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(target, text.encode("utf-8", "backslashreplace"))
        written.append(target)
    return written


def write_index(results: list[ImageResult], links: dict[str, str], context: RunContext, folder: Path) -> Path:
    target = folder / "index.html"
    atomic_write(target, render_index_html(results, links, context).encode("utf-8", "backslashreplace"))
    return target
