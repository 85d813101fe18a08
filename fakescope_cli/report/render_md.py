"""Markdown with the same content as the HTML report. Untrusted text is escaped so that it can
neither add Markdown structure nor raw HTML when the file is rendered."""

from __future__ import annotations

import re

from fakescope_cli.report.model import RATIONALE_NOTE, ImageReport, display_name
from fakescope_cli.report.render_html import sorted_items

_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")


def md(text: object) -> str:
    """One line of inert Markdown: HTML entities for <, >, &; backslash before Markdown syntax."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = " ".join(value.split())  # no new lines, so no new blocks or table rows
    return _SPECIAL.sub(r"\\\1", value)


def _block(text: str) -> list[str]:
    """Multi-line model text as a quoted block, each line escaped."""
    return [f"> {md(line)}" if line.strip() else ">" for line in text.splitlines()] or ["> (empty)"]


def render_image_markdown(report: ImageReport) -> str:
    data = report.to_dict()
    image, verdict, custody = data["image"], data["verdict"], data["custody"]
    lines = [f"# FakeScope report: {md(display_name(report.result.path))}", ""]
    lines.append(f"**Verdict: {md(verdict['verdict'] or 'error')}**")
    lines.append("")
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
    if report.figures:
        lines += ["Signal maps (ELA, spectrum) are in the HTML report.", ""]
    if data["rationale"] is not None:
        lines += ["## Model rationale", "", f"*{md(RATIONALE_NOTE)}*", ""] + _block(data["rationale"]) + [""]
    if data["questions"]:
        lines += ["## Questions and answers", "", f"*{md(RATIONALE_NOTE)}*", ""]
        for qa in data["questions"]:
            lines += [f"**Q:** {md(qa['question'])}", ""] + _block(qa["answer"]) + [""]
    lines += ["## Chain of custody", "", "| item | value |", "|---|---|"]
    rows = [
        ("file", image["path"]),
        ("size (bytes)", image["bytes"]),
        ("SHA-256", image["sha256"]),
        ("perceptual hash", image["phash"]),
    ]
    rows += [(f"file time: {k}", v) for k, v in image["file_times"].items()]
    model = custody["model"]
    if model:
        rows += [
            ("model (text)", model["text"]),
            ("model (text) SHA-256", model["text_sha256"]),
            ("model (projector)", model["mmproj"]),
            ("model (projector) SHA-256", model["mmproj_sha256"]),
            ("quantization", f"{model.get('text_file_type')} / {model.get('mmproj_file_type')}"),
            ("profile", model["profile"]),
        ]
    else:
        rows.append(("model", "none (evidence only)"))
    rows += [
        ("tool", f"fakescope {custody['tool']['version']}"),
        ("command line", custody["command_line"]),
        ("report time (UTC)", custody["utc_time"]),
        ("operating system", custody["os"]),
    ]
    lines += [f"| {md(key)} | {md(value)} |" for key, value in rows]
    return "\n".join(lines) + "\n"
