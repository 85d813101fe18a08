"""Minimal, defensive GGUF header reader: metadata and tensor table, no tensor data.

Used to describe and validate model files before llama.cpp opens them (a truncated or
mismatched file must give a clear message, not a crash). Pure Python; sizes are capped
because a model file from the internet is untrusted input too.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO

from fakescope_cli.errors import ModelFileError

MAGIC = b"GGUF"
MAX_STRING = 64 << 20
MAX_ARRAY = 50_000_000
MAX_TENSORS = 1_000_000
KEEP_ARRAY = 64  # longer arrays are summarised by their length
_U64 = struct.Struct("<Q")

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}

# ggml type id -> (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}  # fmt: skip

FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
              17: "Q5_K_M", 18: "Q6_K", 25: "IQ4_NL", 30: "IQ4_XS", 32: "BF16"}  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.type_id, (f"type{self.type_id}", 0, 0))[0]

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def n_bytes(self) -> int | None:
        info = GGML_TYPES.get(self.type_id)
        if info is None:
            return None
        _, block, size = info
        return self.n_elements // block * size


@dataclass
class GGUFHeader:
    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0
    file_size: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def n_parameters(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def file_type(self) -> str:
        value = self.metadata.get("general.file_type")
        if isinstance(value, int):
            return FILE_TYPES.get(value, f"type{value}")
        return "unknown"

    def tensor_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tensor in self.tensors:
            counts[tensor.type_name] = counts.get(tensor.type_name, 0) + 1
        return counts

    @property
    def expected_size(self) -> int:
        """Smallest file size that holds every tensor's data."""
        end = self.data_offset
        for tensor in self.tensors:
            size = tensor.n_bytes
            if size is not None:
                end = max(end, self.data_offset + tensor.offset + size)
        return end


_PARSED: dict[tuple[object, ...], GGUFHeader] = {}
_PARSED_LOCK = threading.Lock()


class _Reader:
    """Walks the header, reading the file into memory only as far as the header goes (no map: a
    file truncated while mapped would kill the process); every read is bounds-checked."""

    CHUNK = 1 << 20

    def __init__(self, fh: BinaryIO, path: Path, size: int):
        self.fh = fh
        self.path = path
        self.size = size  # the file's size: nothing is read past it
        self.buffer = bytearray()
        self.at = 0

    def _truncated(self) -> ModelFileError:
        return ModelFileError(f"{self.path}: file ends inside the GGUF header (truncated download?)")

    def _have(self, end: int) -> None:
        """Make sure bytes up to ``end`` are in memory."""
        if end > self.size:
            raise self._truncated()
        while len(self.buffer) < end:
            chunk = self.fh.read(max(self.CHUNK, end - len(self.buffer)))
            if not chunk:
                raise self._truncated()
            self.buffer += chunk

    def take(self, n: int) -> bytes:
        end = self.at + n
        self._have(end)
        data = bytes(self.buffer[self.at : end])
        self.at = end
        return data

    def scalar(self, fmt: str) -> Any:
        width = struct.calcsize(fmt)
        self._have(self.at + width)
        (value,) = struct.unpack_from(fmt, self.buffer, self.at)
        self.at += width
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        if length > MAX_STRING:
            raise ModelFileError(f"{self.path}: implausible string length {length} in GGUF header")
        return self.take(length).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        self._have(self.at + n)
        self.at += n

    def skip_strings(self, count: int) -> None:
        """Step over ``count`` length-prefixed strings (a token list: tens of thousands)."""
        unpack = _U64.unpack_from
        at = self.at
        for _ in range(count):
            if at + 8 > len(self.buffer):
                self._have(at + 8)
            (length,) = unpack(self.buffer, at)
            if length > MAX_STRING:
                raise ModelFileError(f"{self.path}: implausible string length {length} in GGUF header")
            at += 8 + length
        self._have(at)
        self.at = at

    def value(self, type_id: int, nested: bool = False) -> Any:
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id])
        if type_id == 8:
            return self.string()
        if type_id == 9:
            if nested:
                raise ModelFileError(f"{self.path}: nested arrays in GGUF header")
            item_type = self.scalar("<I")
            count = self.scalar("<Q")
            if count > MAX_ARRAY:
                raise ModelFileError(f"{self.path}: implausible array length {count} in GGUF header")
            if count <= KEEP_ARRAY:
                return [self.value(item_type, nested=True) for _ in range(count)]
            # Long arrays (token lists, merges) are skipped, not kept: only their length matters here.
            if item_type in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[item_type]))
            elif item_type == 8:
                self.skip_strings(count)
            else:
                raise ModelFileError(f"{self.path}: unsupported GGUF array item type {item_type}")
            return _LongArray(count)
        raise ModelFileError(f"{self.path}: unknown GGUF value type {type_id}")


@dataclass(frozen=True)
class _LongArray:
    length: int

    def __repr__(self) -> str:
        return f"<array of {self.length}>"


def read_header(path: Path) -> GGUFHeader:
    """Parse the header of ``path``; raise ModelFileError if it is not a whole GGUF file.

    A scan reads each model's header in several places; the parse is kept per file identity
    (device, inode, size, modification and change times of the file opened), so a file replaced
    or rewritten on disk is read afresh. Callers must not change the header they get."""
    path = Path(path)
    try:
        if path.exists() and not (path.is_file() or path.is_dir()):  # a pipe would block the open
            raise ModelFileError(f"{path}: not a regular file")
        fh = path.open("rb")
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot open model file ({exc.strerror})") from None
    with fh:
        stat = os.fstat(fh.fileno())
        if not S_ISREG(stat.st_mode):
            raise ModelFileError(f"{path}: not a regular file")
        identity = (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        with _PARSED_LOCK:
            known = _PARSED.get(identity)
        if known is not None:
            return known
        header = _parse_view(path, _Reader(fh, path, stat.st_size))
    with _PARSED_LOCK:
        if len(_PARSED) >= 32:
            _PARSED.clear()
        _PARSED[identity] = header
    return header


def _parse_view(path: Path, reader: _Reader) -> GGUFHeader:
    size = reader.size
    if size < len(MAGIC) or reader.take(4) != MAGIC:
        raise ModelFileError(f"{path}: not a GGUF file")
    version = reader.scalar("<I")
    if version not in (2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version}")
    n_tensors = reader.scalar("<Q")
    n_kv = reader.scalar("<Q")
    if n_tensors > MAX_TENSORS or n_kv > MAX_TENSORS:
        raise ModelFileError(f"{path}: implausible GGUF header counts")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = reader.string()
        metadata[key] = reader.value(reader.scalar("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.scalar("<I")
        if n_dims > 8:
            raise ModelFileError(f"{path}: tensor {name!r} has {n_dims} dimensions")
        shape = tuple(reader.scalar("<Q") for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, reader.scalar("<I"), reader.scalar("<Q")))
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 20:
        raise ModelFileError(f"{path}: invalid general.alignment {alignment!r}")
    data_offset = (reader.at + alignment - 1) // alignment * alignment
    header = GGUFHeader(path, version, metadata, tensors, data_offset, size)
    if size < header.expected_size:
        raise ModelFileError(
            f"{path}: file is truncated ({size} bytes, tensors need {header.expected_size}); "
            "download or copy it again"
        )
    return header
