"""Self-contained HTML: inline CSS, images as data URIs, and a Content-Security-Policy that allows
nothing else (no network, no scripts except the index page's own hashed sorter).

Every string from the file or the model goes through Jinja's autoescaping, after control, bidi and
zero-width characters are made visible escapes (:func:`fakescope_cli.textsafe.printable`): a file
name holding a terminal title sequence shows as text in the tab title, the heading and the index."""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from fakescope_cli.evidence.fusion import VERDICTS
from fakescope_cli.report.model import RATIONALE_NOTE, ImageReport, RunContext, display_name, report_stem
from fakescope_cli.report.rows import custody_rows, sorted_items
from fakescope_cli.results import ImageResult
from fakescope_cli.textsafe import printable

FIGURE_TEXT = {
    "ela": (
        "Error level analysis",
        "Re-compression error at JPEG quality 90, brighter = larger. Edges and "
        "texture are bright in any photo; look for regions that differ from similar surroundings.",
    ),
    "spectrum": (
        "Noise-residual spectrum",
        "Log power of the high-pass residual, zero frequency in the centre. "
        "Isolated bright dots away from the centre are periodic patterns (upsampling, resizing, "
        "textures).",
    ),
}


def _view_text(report: ImageReport, name: str) -> tuple[str, str]:
    result = report.result
    if name == "heatmap" and result.heatmap is not None:
        grid = result.heatmap
        return (
            "Heat map of p(fake)",
            f"p(fake) of each native {grid.crop_size} px crop on a {grid.cols}×{grid.rows} grid; blue looks "
            "real, red looks generated. A region that differs from the rest of the image (generative "
            "fill, an inpainted face) is where to look closer. The model's opinion per region, not a "
            "measurement.",
        )
    view = result.score.view if result.score is not None else None
    count = len(view.crops) if view else 0
    size = view.crop_size if view else 0
    how = "mean of their logits" if view and view.aggregate == "mean-logit" else "highest of them"
    caption = (
        f"The {count} native-resolution {size} px crop{'s' if count != 1 else ''} p(fake) was computed "
        f"from ({how}), each with its own p(fake); no crop was resized."
    )
    if view and view.undersized:
        caption += " The image is smaller than one crop: it was judged at its own size, padded, not enlarged."
    return "Crops the model judged", caption


@cache
def _asset(name: str) -> str:
    return (resources.files("fakescope_cli.report") / "templates" / name).read_text(encoding="utf-8")


def _visible(value: object) -> object:
    """Every ``{{ ... }}`` output: plain strings with their control characters escaped; our own
    markup (figures, data URIs) and numbers as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return printable(value, keep_newlines=True)
    return value


@cache
def _environment() -> Environment:
    return Environment(autoescape=select_autoescape(default=True, default_for_string=True), finalize=_visible)


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _csp(css: str, script: str | None = None) -> str:
    policy = [
        "default-src 'none'",
        "img-src data:",
        f"style-src {_sha256_source(css)}",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    if script is not None:
        policy.append(f"script-src {_sha256_source(script)}")
    return "; ".join(policy)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _gauge(p_fake: float, threshold: float, band: float) -> dict[str, Any]:
    from fakescope_cli.evidence.fusion import band_edges

    lower, upper = band_edges(threshold, band)
    colour = "#cf222e" if p_fake >= upper else "#1a7f37" if p_fake < lower else "#9a6700"
    return {
        "value_w": round(300 * p_fake, 1),
        "threshold_x": round(10 + 300 * threshold, 1),
        "band_x": round(10 + 300 * lower, 1),
        "band_w": round(300 * (upper - lower), 1),
        "colour": colour,
    }


def render_image_html(report: ImageReport) -> str:
    data = report.to_dict()
    css = _asset("report.css")
    items = sorted_items(data)
    verdict = data["verdict"]
    gauge = (
        _gauge(verdict["p_fake"], verdict["threshold"], verdict["band"])
        if verdict["p_fake"] is not None
        else None
    )
    figures = [
        {"uri": _data_uri("image/png", png), "title": FIGURE_TEXT[name][0], "caption": FIGURE_TEXT[name][1]}
        for name, png in report.figures.items()
        if name in FIGURE_TEXT
    ]
    looked = [
        {"uri": _data_uri("image/png", png), "title": title, "caption": caption}
        for name, png in report.view_figures.items()
        for title, caption in [_view_text(report, name)]
    ]
    template = _environment().from_string(_asset("image.html.j2"))
    return template.render(
        looked=looked,
        csp=Markup(_csp(css)),
        css=Markup(css),
        name=display_name(report.result.path),
        r=data,
        v=verdict,
        img=data["image"],
        items=items,
        gauge=gauge,
        figures=figures,
        thumbnail=_data_uri("image/jpeg", report.thumbnail_jpeg) if report.thumbnail_jpeg else None,
        rationale_note=RATIONALE_NOTE,
        custody=custody_rows(data),
    )


def _distinct_names(paths: list[str]) -> dict[str, str]:
    """Each path as short as it can be and still tell files apart: the base name, or the path from
    the folder the scanned files share where two base names collide (a/x.jpg and b/x.jpg)."""
    names = {p: display_name(p) for p in paths}
    counts = Counter(names.values())
    clashing = [p for p in paths if counts[names[p]] > 1]
    if clashing:
        try:
            common = os.path.commonpath([os.path.abspath(p) for p in clashing])
        except ValueError:  # different drives (Windows)
            common = ""
        for path in clashing:
            names[path] = os.path.relpath(os.path.abspath(path), common) if common else path
    return names


def render_index_html(results: list[ImageResult], links: dict[str, str], context: RunContext) -> str:
    """The folder page: counts per verdict, a histogram of p(fake), a sortable table linking each report."""
    from fakescope_cli import __version__

    css, script = _asset("report.css"), _asset("sort.js")
    counts: dict[str, int] = {}
    for result in results:
        key = "error" if result.error else (result.verdict or "error")
        counts[key] = counts.get(key, 0) + 1
    ordered = [(name, counts[name]) for name in (*VERDICTS, "error") if name in counts]
    scores = [r.p_fake for r in results if r.p_fake is not None and not r.error]
    histogram = []
    if scores:
        bins = [0] * 10
        for score in scores:
            bins[min(int(score * 10), 9)] += 1
        tallest = max(bins)
        for index, n in enumerate(bins):
            height = round(110 * n / tallest, 1)
            histogram.append({"x": 10 + 32 * index, "y": round(130 - height, 1), "h": height, "n": n})
    rows = []
    names = _distinct_names([r.path for r in results])
    for result in results:
        verdict = "error" if result.error else (result.verdict or "error")
        rows.append(
            {
                "name": names[result.path],
                "link": links.get(result.path),
                "verdict": verdict,
                "p_sort": -1 if result.p_fake is None else result.p_fake,
                "p_text": "-" if result.p_fake is None else f"{result.p_fake:.3f}",
                "reason": result.error or (result.fused.reason if result.fused else ""),
            }
        )
    template = _environment().from_string(_asset("index.html.j2"))
    return template.render(
        csp=Markup(_csp(css, script)),
        css=Markup(css),
        script=Markup(script),
        count=len(results),
        context=context,
        caveat=context.model.caveat if context.model else None,
        version=__version__,
        counts=ordered,
        histogram=histogram,
        rows=rows,
    )


def report_file_name(result: ImageResult, extension: str) -> str:
    return f"{report_stem(result.path, result.sha256)}.{extension}"
