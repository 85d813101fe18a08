"""What the HTML and Markdown reports both show, as plain rows: evidence items in report order with
readable values, and the chain-of-custody table."""

from __future__ import annotations

import json
from typing import Any

from fakescope_cli.evidence.items import CATEGORIES


def value_text(value: Any) -> str:
    """A finding's measured value as short readable text (dicts as "key: value; ...")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {value_text(v)}" for k, v in value.items() if v is not None and v != [])[
            :2000
        ]
    if isinstance(value, list):
        return ", ".join(value_text(v) if not isinstance(v, list) else f"({value_text(v)})" for v in value)[
            :2000
        ]
    return str(value)[:2000]


def sorted_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence items in report order (provenance first, hashes last), with readable values."""
    order = {name: index for index, name in enumerate(CATEGORIES)}
    items = (data["evidence"] or {}).get("items", [])
    ranked = sorted(items, key=lambda item: order.get(item["category"], len(order)))
    return [{**item, "value_text": value_text(item.get("value"))} for item in ranked]


def custody_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    image, custody = data["image"], data["custody"]
    rows = [
        ("file", image["path"]),
        ("size", f"{image['bytes']} bytes" if image["bytes"] is not None else "unknown"),
        ("SHA-256", image["sha256"] or "not computed"),
        ("perceptual hash (pHash)", image["phash"] or "not computed"),
    ]
    rows += [(f"file time: {key}", value) for key, value in image["file_times"].items()]
    model = custody["model"]
    if model:
        rows += [
            ("model (text)", model["text"]),
            ("model (text) SHA-256", model["text_sha256"]),
            ("model (projector)", model["mmproj"]),
            ("model (projector) SHA-256", model["mmproj_sha256"]),
            (
                "model quantization",
                f"{model.get('text_file_type')} / projector {model.get('mmproj_file_type')}",
            ),
            (
                "model profile",
                f"{model['profile']} (labels {model['label_fake']!r} / {model['label_real']!r})",
            ),
        ]
        if model.get("caveat"):
            rows.append(("model caveat", model["caveat"]))
    else:
        rows.append(("model", "none (evidence only)"))
    if custody["decoding"]:
        rows.append(("decoding", json.dumps(custody["decoding"])))
    rows += [
        ("tool", f"fakescope {custody['tool']['version']}"),
        ("llama-cpp-python", custody["llama_cpp_python"] or "not installed"),
        ("command line", custody["command_line"]),
        ("report time (UTC)", custody["utc_time"]),
        ("operating system", custody["os"]),
        ("Python", custody["python"]),
    ]
    return rows
