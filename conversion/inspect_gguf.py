"""`python -m conversion inspect FILE.gguf`: metadata and tensor table as text, safe to print.

The file is read with FakeScope's capped header reader (no tensor data is loaded) and every
string from it is shown with control characters escaped: a GGUF is untrusted input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fakescope_cli.gguf_header import read_header

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
MAX_VALUE_CHARS = 200


def escape(value: object) -> str:
    """``value`` as one printable line: control and bidi characters shown as escapes."""

    def show(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(show, str(value))


def _value(value: object) -> str:
    text = escape(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"... ({len(text)} characters)"
    return text


def describe(path: Path, tensors: bool = True) -> Iterator[str]:
    header = read_header(path)
    yield f"file: {escape(path)}"
    yield f"GGUF version {header.version}, {header.file_size} bytes, {len(header.tensors)} tensors"
    yield f"architecture: {escape(header.architecture)}; file type: {header.file_type}"
    yield f"parameters: {header.n_parameters}; tensor types: {header.tensor_types()}"
    yield "metadata:"
    for key in sorted(header.metadata):
        yield f"  {escape(key)} = {_value(header.metadata[key])}"
    if tensors:
        yield "tensors (name, type, shape in ggml order):"
        for tensor in header.tensors:
            yield f"  {escape(tensor.name)}  {tensor.type_name}  {list(tensor.shape)}"
