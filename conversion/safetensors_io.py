"""Read safetensors files one tensor at a time with plain reads (no memory map, no torch).

A memory-mapped file keeps every page it has touched in the process's resident set until it
is unmapped, so converting through a map shows the whole checkpoint in RSS. Reading each
tensor's byte range into its own buffer keeps the peak near one tensor. The format: an 8-byte
little-endian header length, a JSON header ``{name: {dtype, shape, data_offsets}}``, then data.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakescope_cli.errors import ConversionError

MAX_HEADER = 100 << 20
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}


@dataclass(frozen=True)
class TensorEntry:
    path: Path
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute file offset
    end: int


def read_index(path: Path) -> dict[str, TensorEntry]:
    """The tensors of one safetensors file, checked against its size."""
    try:
        with path.open("rb") as fh:
            size = path.stat().st_size
            raw = fh.read(8)
            if len(raw) != 8:
                raise ConversionError(f"{path}: too short for a safetensors file")
            (length,) = struct.unpack("<Q", raw)
            if length > min(MAX_HEADER, size - 8):
                raise ConversionError(f"{path}: implausible safetensors header length {length}")
            header = json.loads(fh.read(length))
    except OSError as exc:
        raise ConversionError(f"{path}: cannot read ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: damaged safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise ConversionError(f"{path}: damaged safetensors header")
    base = 8 + length
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(info["dtype"])
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversionError(f"{path}: damaged entry for {name!r} in the safetensors header") from exc
        if dtype not in _DTYPES:
            raise ConversionError(f"{path}: tensor {name!r} has type {dtype}; only F32, F16, BF16, F64")
        itemsize = np.dtype(_DTYPES[dtype]).itemsize
        if end - begin != math.prod(shape) * itemsize or begin < 0 or base + end > size:
            raise ConversionError(f"{path}: tensor {name!r} does not fit the file (truncated download?)")
        entries[name] = TensorEntry(path, dtype, shape, base + begin, base + end)
    return entries


def read_tensor(entry: TensorEntry) -> np.ndarray:
    """One tensor as float32."""
    try:
        with entry.path.open("rb") as fh:
            fh.seek(entry.start)
            data = fh.read(entry.end - entry.start)
    except OSError as exc:
        raise ConversionError(f"{entry.path}: cannot read ({exc.strerror})") from exc
    if len(data) != entry.end - entry.start:
        raise ConversionError(f"{entry.path}: file ends inside a tensor (truncated?)")
    array = np.frombuffer(data, dtype=_DTYPES[entry.dtype]).reshape(entry.shape)
    if entry.dtype == "BF16":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32, copy=entry.dtype != "F32")
