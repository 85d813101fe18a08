"""Shared pieces of every architecture exporter: the tensor plan, provenance keys, streamed writing.

An exporter first *plans* both files (GGUF name, source tensor, shape and storage type of every
tensor, checked against the config) without reading tensor data; ``--dry-run`` prints that plan.
Writing then streams: the header is written from the plan, and each tensor is read, converted
and written one at a time, so no second copy of the model is ever held in memory.
"""

from __future__ import annotations

import datetime as _dt
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from conversion import CONVERTER_VERSION
from conversion.checkpoint import Checkpoint
from fakescope_cli.card import ModelCard
from fakescope_cli.errors import ConversionError
from fakescope_cli.profile import ModelProfile

OUTTYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}
_NUMPY = {"F32": np.float32, "F16": np.float16}

KEY_SOURCE_SHA256 = "fakescope.source.sha256"
KEY_SOURCE_ARCH = "fakescope.source.architecture"
KEY_CONVERTER_VERSION = "fakescope.converter.version"
KEY_CONVERTED_AT = "fakescope.converter.date"
KEY_QUANTIZATION = "fakescope.converter.quantization"

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TensorPlan:
    """One tensor as it will be written: GGUF name, source tensor, shape (numpy order), type."""

    gguf_name: str
    source_name: str
    shape: tuple[int, ...]
    dtype: str  # "F32" or "F16"
    transform: Transform | None = field(default=None, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(_NUMPY[self.dtype]).itemsize


def plan_tensor(
    gguf_name: str,
    source_name: str,
    shape: Sequence[int],
    outtype: str,
    keep_f32: bool = False,
    transform: Transform | None = None,
) -> TensorPlan:
    """Storage rule: 1-D tensors and ``keep_f32`` tensors stay f32; others follow ``outtype``."""
    if outtype not in OUTTYPES:
        raise ConversionError(f"unsupported output type {outtype!r}; choose from {', '.join(OUTTYPES)}")
    dtype = "F32" if outtype == "f32" or keep_f32 or len(shape) < 2 else "F16"
    return TensorPlan(gguf_name, source_name, tuple(int(d) for d in shape), dtype, transform)


def expect_shape(name: str, shape: Sequence[int], expected: Sequence[int], what: str) -> None:
    if tuple(shape) != tuple(expected):
        raise ConversionError(
            f"tensor {name!r} has shape {list(shape)} but the config implies {list(expected)} ({what}); "
            "config.json and the weights do not match"
        )


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


def add_card(writer: gguf.GGUFWriter, card: ModelCard | None) -> None:
    for key, value in (card.to_metadata() if card else {}).items():
        writer.add_string(key, value)


def write_gguf(writer: gguf.GGUFWriter, plan: Sequence[TensorPlan], checkpoint: Checkpoint) -> None:
    """Write the header from ``plan``, then stream each tensor from the checkpoint to the file."""
    for item in plan:
        writer.add_tensor_info(item.gguf_name, item.shape, np.dtype(_NUMPY[item.dtype]), item.nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for item in plan:
        array = checkpoint.tensor(item.source_name)
        if item.transform is not None:
            array = item.transform(array)
        array = np.ascontiguousarray(array, dtype=_NUMPY[item.dtype])
        if array.shape != item.shape:
            raise ConversionError(
                f"{item.source_name}: shape {array.shape} differs from the plan {item.shape}"
            )
        writer.write_tensor_data(array)
        del array
    writer.close()


class ArchitectureExporter(ABC):
    """Turns one checkpoint architecture into a text GGUF and an mmproj GGUF.

    Subclasses plan the tensors of each file and add its metadata; this class writes them.
    """

    def __init__(self, checkpoint: Checkpoint, outtype: str, profile: ModelProfile, source_sha256: str):
        if outtype not in OUTTYPES:
            raise ConversionError(f"unsupported output type {outtype!r}; choose from {', '.join(OUTTYPES)}")
        self.checkpoint = checkpoint
        self.outtype = outtype
        self.profile = profile
        self.source_sha256 = source_sha256

    @abstractmethod
    def text_plan(self) -> list[TensorPlan]:
        """The language model's tensors (checked against the config)."""

    @abstractmethod
    def mmproj_plan(self) -> list[TensorPlan]:
        """The vision tower's and projector's tensors (checked against the config)."""

    @abstractmethod
    def text_metadata(self, writer: gguf.GGUFWriter) -> None:
        """Hyperparameters, vocabulary, profile and provenance of the text GGUF."""

    @abstractmethod
    def mmproj_metadata(self, writer: gguf.GGUFWriter) -> None:
        """The ``clip.*`` keys libmtmd reads, and provenance."""

    def check(self) -> dict[str, Any]:
        """Everything that can fail before a byte is written: plans, vocabulary, processor."""
        plans = {"text": self.text_plan(), "mmproj": self.mmproj_plan()}
        self.text_metadata(gguf.GGUFWriter(None, arch=self.text_arch))
        self.mmproj_metadata(gguf.GGUFWriter(None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ]))
        return plans

    text_arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA]
    # The projector's type when the user names none (None: the text model's float type). Set per
    # architecture from `python -m conversion.bench_types` (libmtmd's encode time on CPU).
    default_projector: str | None = None
    warnings: tuple[str, ...] = ()  # facts about running the result that the user must know
    card: ModelCard | None = None  # written into the text GGUF after the architecture's metadata

    @contextmanager
    def _stored_as(self, outtype: str | None) -> Iterator[None]:
        if outtype is not None and outtype not in OUTTYPES:
            raise ConversionError(f"unsupported output type {outtype!r}; choose from {', '.join(OUTTYPES)}")
        kept, self.outtype = self.outtype, outtype or self.outtype
        try:
            yield
        finally:
            self.outtype = kept

    def write_text(self, path: Path, outtype: str | None = None) -> list[TensorPlan]:
        """The text GGUF, stored as ``outtype`` (default: the exporter's float type)."""
        with self._stored_as(outtype):
            plan = self.text_plan()
            writer = gguf.GGUFWriter(path, arch=self.text_arch)
            self.text_metadata(writer)
            add_card(writer, self.card)
            write_gguf(writer, plan, self.checkpoint)
        return plan

    def write_mmproj(self, path: Path, outtype: str | None = None) -> list[TensorPlan]:
        """The projector GGUF, stored as ``outtype`` (default: the text model's float type)."""
        with self._stored_as(outtype):
            plan = self.mmproj_plan()
            writer = gguf.GGUFWriter(path, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ])
            self.mmproj_metadata(writer)
            write_gguf(writer, plan, self.checkpoint)
        return plan
