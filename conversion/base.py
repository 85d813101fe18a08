"""Shared pieces of every architecture exporter: output types, tensor typing, GGUF file writing."""

from __future__ import annotations

import datetime as _dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from conversion import CONVERTER_VERSION
from conversion.checkpoint import Checkpoint
from fakescope_cli.errors import ConversionError
from fakescope_cli.profile import ModelProfile

OUTTYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}

KEY_SOURCE_SHA256 = "fakescope.source.sha256"
KEY_SOURCE_ARCH = "fakescope.source.architecture"
KEY_CONVERTER_VERSION = "fakescope.converter.version"
KEY_CONVERTED_AT = "fakescope.converter.date"


@dataclass(frozen=True)
class TensorPlan:
    """One tensor as it will be written: GGUF name, shape and storage type."""

    gguf_name: str
    source_name: str
    shape: tuple[int, ...]
    dtype: str


def store_as(array: np.ndarray, outtype: str, keep_f32: bool = False) -> np.ndarray:
    """Cast for storage: 1-D tensors and ``keep_f32`` tensors stay f32; others follow outtype."""
    if outtype == "f32" or keep_f32 or array.ndim < 2:
        return np.ascontiguousarray(array, dtype=np.float32)
    if outtype == "f16":
        return np.ascontiguousarray(array, dtype=np.float16)
    raise ConversionError(f"unsupported output type {outtype!r}; choose from {', '.join(OUTTYPES)}")


def add_provenance(writer: gguf.GGUFWriter, checkpoint: Checkpoint, source_sha256: str) -> None:
    writer.add_string(KEY_SOURCE_SHA256, source_sha256)
    writer.add_string(KEY_SOURCE_ARCH, checkpoint.architecture)
    writer.add_string(KEY_CONVERTER_VERSION, CONVERTER_VERSION)
    writer.add_string(KEY_CONVERTED_AT, _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def add_profile(writer: gguf.GGUFWriter, profile: ModelProfile) -> None:
    for key, value in profile.to_metadata().items():
        if isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_string(key, value)


def write_gguf(writer: gguf.GGUFWriter, tensors: Iterable[tuple[str, np.ndarray]]) -> list[TensorPlan]:
    """Add tensors and write the file the writer was opened on."""
    plan = []
    for name, array in tensors:
        writer.add_tensor(name, array)
        plan.append(TensorPlan(name, name, tuple(array.shape), str(array.dtype)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return plan


class ArchitectureExporter(ABC):
    """Turns one checkpoint architecture into a text GGUF and an mmproj GGUF."""

    def __init__(self, checkpoint: Checkpoint, outtype: str, profile: ModelProfile, source_sha256: str):
        if outtype not in OUTTYPES:
            raise ConversionError(f"unsupported output type {outtype!r}; choose from {', '.join(OUTTYPES)}")
        self.checkpoint = checkpoint
        self.outtype = outtype
        self.profile = profile
        self.source_sha256 = source_sha256

    @abstractmethod
    def write_text(self, path: Path) -> list[TensorPlan]:
        """Write the language model GGUF."""

    @abstractmethod
    def write_mmproj(self, path: Path) -> list[TensorPlan]:
        """Write the vision projector GGUF."""
