"""Strings read from files are attacker-controlled: decode, strip escapes, cap their size."""

from __future__ import annotations

import re

MAX_TEXT = 4000  # characters kept from any one metadata string
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(raw: str | bytes, limit: int = MAX_TEXT) -> str:
    """Decoded text without ANSI sequences, control, bidi or zero-width characters (newline and tab
    kept), capped."""
    if isinstance(raw, bytes):
        raw = raw[: limit * 4].decode("utf-8", errors="replace")
    text = _CONTROL.sub("", _ANSI.sub("", raw))
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters not shown]"
    return text


def short(text: str, limit: int = 160) -> str:
    """One line for a summary: newlines folded, long text cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
