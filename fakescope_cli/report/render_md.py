"""Markdown with the same content as the HTML report. Untrusted text is escaped so that it can
neither add Markdown structure nor raw HTML when the file is rendered, nor become a link: GitHub-
flavoured renderers turn bare ``http://...`` and ``www....`` text into links, so the ``:`` before
``//`` and the ``.`` after ``www`` are backslash-escaped (shown as is, but no longer matched).
Renderers that link e-mail addresses, or that link after resolving escapes, may still do so."""

from __future__ import annotations

import re

from fakescope_cli.report.model import RATIONALE_NOTE, ImageReport, display_name
from fakescope_cli.report.rows import custody_rows, sorted_items
from fakescope_cli.textsafe import printable

_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")
_AUTOLINK = re.compile(r":(?=//)|(?<=www)\.", re.IGNORECASE)


def md(text: object) -> str:
    """One line of inert Markdown: control characters as visible escapes; HTML entities for <, >, &;
    backslash before Markdown syntax."""
    value = " ".join(str(text).split())  # no new lines, so no new blocks or table rows
    value = printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _SPECIAL.sub(r"\\\1", value)
    return _AUTOLINK.sub(lambda match: "\\" + match.group(), value)


def _block(text: str) -> list[str]:
    """Multi-line model text as a quoted block, each line escaped."""
    return [f"> {md(line)}" if line.strip() else ">" for line in text.splitlines()] or ["> (empty)"]


def _looked(data: dict) -> list[str]:
    """Where a crops-view model looked, as text: the judged crops, and the heat map as a grid."""
    view, grid = data.get("view"), data.get("map")
    if not view and not grid:
        return []
    lines = ["## Where the model looked", ""]
    if view:
        lines += [
            f"p(fake) from {len(view['crops'])} native {view['crop_size']} px crops "
            f"({md(view['aggregate'])}); "
            "none was resized."
            + (
                " The image is smaller than one crop: judged at its own size, padded."
                if view["undersized"]
                else ""
            ),
            "",
            "| crop (x, y, w×h) | p(fake) |",
            "|---|---|",
        ]
        lines += [f"| {c['x']}, {c['y']}, {c['w']}×{c['h']} | {c['p_fake']:.3f} |" for c in view["crops"]]
        lines.append("")
    if grid:
        cols = grid["cols"]
        lines += [
            f"Heat map: p(fake) of each native {grid['crop_size']} px crop, {cols}×{grid['rows']} grid "
            "(the picture is in the HTML report).",
            "",
            "| " + " | ".join(f"x={c['x']}" for c in grid["cells"][:cols]) + " |",
            "|" + "---|" * cols,
        ]
        for row in range(grid["rows"]):
            cells = grid["cells"][row * cols : (row + 1) * cols]
            lines.append("| " + " | ".join(f"{c['p_fake']:.2f}" for c in cells) + " |")
        lines.append("")
    if data.get("region"):
        r = data["region"]
        lines += [
            f"The rationale and answers are about the crop at x={r['x']}, y={r['y']} ({r['w']}×{r['h']} px).",
            "",
        ]
    return lines


def render_image_markdown(report: ImageReport) -> str:
    data = report.to_dict()
    verdict = data["verdict"]
    lines = [f"# FakeScope report: {md(display_name(report.result.path))}", ""]
    lines.append(f"**Verdict: {md(verdict['verdict'] or 'error')}**")
    lines.append("")
    if verdict["model_caveat"]:
        lines += [f"> **Model caveat:** {md(verdict['model_caveat'])}", ""]
    if data["error"]:
        lines += [f"Could not be analysed: {md(data['error'])}", ""]
    if verdict["reason"]:
        lines += [f"Why: {md(verdict['reason'])}", ""]
    if verdict["decided_by"]:
        lines += [f"Decided by: {md(', '.join(verdict['decided_by']))}", ""]
    if verdict["p_fake"] is not None:
        lines += [
            f"p(fake) = {verdict['p_fake']:.3f} (model alone: {md(verdict['model_verdict'])}; threshold "
            f"{verdict['threshold']}, inconclusive band ±{verdict['band']})",
            "",
        ]
    else:
        lines += ["p(fake): not computed (no model ran)", ""]
    lines += ["## Caveats", ""] + [f"- {md(c)}" for c in data["caveats"]] + [""]
    lines += [
        "## Evidence",
        "",
        "| category | finding | value | points to | where |",
        "|---|---|---|---|---|",
    ]
    for item in sorted_items(data):
        points = "" if item["strength"] == "none" else f"{item['points_to']} ({item['strength']})"
        value = item["value_text"][:600] + (f" {item['unit']}" if item.get("unit") else "")
        lines.append(
            f"| {md(item['category'])} | {md(item['summary'])} | {md(value)} | {md(points)} | "
            f"{md(item.get('location') or '')} |"
        )
    lines.append("")
    lines += _looked(data)
    if report.figures:
        lines += ["Signal maps (ELA, spectrum) are in the HTML report.", ""]
    if data["rationale"] is not None:
        lines += ["## Model rationale", "", f"*{md(RATIONALE_NOTE)}*", ""] + _block(data["rationale"]) + [""]
    if data["questions"]:
        lines += ["## Questions and answers", "", f"*{md(RATIONALE_NOTE)}*", ""]
        for qa in data["questions"]:
            lines += [f"**Q:** {md(qa['question'])}", ""] + _block(qa["answer"]) + [""]
    if data["next_steps"]:
        lines += [
            "## What to check next",
            "",
            "*Suggestions that follow from what was measured, not conclusions.*",
            "",
        ]
        lines += [f"{n}. {md(step)}" for n, step in enumerate(data["next_steps"], start=1)] + [""]
    lines += ["## Chain of custody", "", "| item | value |", "|---|---|"]
    lines += [f"| {md(key)} | {md(value)} |" for key, value in custody_rows(data)]
    return "\n".join(lines) + "\n"
