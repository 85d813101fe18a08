"""Text from files or the model made safe to show: control, bidi and zero-width characters, and
the undecodable bytes of a file name, become visible escapes; a backslash is doubled, so that a
name that literally holds ``\\x1b`` never prints like one that holds the ESC byte."""

from __future__ import annotations

import re

# C0/C1 controls, bidi and zero-width marks, line separators, and the lone surrogates Python uses
# for file-name bytes that are not UTF-8 (0x80-0xFF, among them the 8-bit CSI 0x9B); and the
# backslash itself, which is doubled.
_CONTROL = re.compile(
    r"[\\\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\udc80-\udcff]"
)


def printable(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every such character shown as ``\\xNN`` / ``\\uNNNN`` (newlines kept on request)."""

    def show(match: re.Match[str]) -> str:
        char = match.group()
        if keep_newlines and char == "\n":
            return char
        if char == "\\":
            return "\\\\"
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable file-name byte
            return f"\\x{code - 0xDC00:02x}"
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(show, str(text))


def has_control(text: str, allow_newlines: bool = False) -> bool:
    """Whether ``text`` holds a character :func:`printable` would escape (a backslash aside)."""
    return printable(text.replace("\\", ""), allow_newlines) != text.replace("\\", "")
