"""Export a checkpoint to ``NAME.gguf`` + ``NAME.mmproj.gguf`` + ``NAME.manifest.json``.

Every file is written under a temporary ``.partial`` name; only when all of them are complete
are they renamed, so a failure (bad checkpoint, full disk, quantizer error) leaves nothing behind.
Quantized text models are written to a scratch copy first (f32 when the checkpoint stores f32 or
the target is bf16, else f16) and quantized by llama.cpp's own quantizer. The vision projector is
f32, f16 or, through the same quantizer, q8_0 or bf16 (``--mmproj-quant``; the default is the
architecture's): its error reaches every image token, so it is never stored below 8 bits.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from conversion import CONVERTER_VERSION
from conversion.base import ArchitectureExporter, TensorPlan
from conversion.checkpoint import Checkpoint
from conversion.quantize import QUANT_TYPES, quantize_text_gguf
from conversion.registry import exporter_for
from fakescope_cli.card import CARD_FILE, ModelCard, load_card_toml
from fakescope_cli.errors import ConversionError
from fakescope_cli.models import file_sha256
from fakescope_cli.profile import DEFAULT_PROFILE, ModelProfile

MANIFEST_FORMAT = "fakescope.manifest/1"
QUANTS = ("f32", "f16", *QUANT_TYPES)
MMPROJ_TYPES = ("f32", "f16", "q8_0", "bf16")
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


@dataclass(frozen=True)
class ExportResult:
    text: Path
    mmproj: Path
    manifest: Path
    text_tensors: list[TensorPlan]
    mmproj_tensors: list[TensorPlan]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportPlan:
    """What ``export`` would write, computed from headers and config only (``--dry-run``)."""

    architecture: str
    quant: str
    float_type: str
    text: list[TensorPlan]
    mmproj: list[TensorPlan]


def _float_type(quant: str) -> str:
    if quant not in QUANTS:
        raise ConversionError(f"unsupported quantization {quant!r}; choose from {', '.join(QUANTS)}")
    return "f32" if quant == "f32" else "f16"


def _open(
    checkpoint_dir: Path,
    quant: str,
    profile: ModelProfile | None,
    card: ModelCard | None = None,
    hash_source: bool = True,
) -> tuple[Checkpoint, ArchitectureExporter]:
    float_type = _float_type(quant)
    checkpoint = Checkpoint.open(checkpoint_dir)
    exporter_cls = exporter_for(checkpoint.architecture)
    digest = checkpoint.sha256() if hash_source else "0" * 64  # a dry run reads no tensor data
    exporter = exporter_cls(checkpoint, float_type, profile or DEFAULT_PROFILE, digest)
    exporter.card = card if card is not None else checkpoint_card(checkpoint.root)
    return checkpoint, exporter


def checkpoint_card(checkpoint_dir: Path) -> ModelCard | None:
    """The card file kept beside the weights (``fakescope-card.toml``), if there is one."""
    path = checkpoint_dir / CARD_FILE
    return load_card_toml(path) if path.is_file() else None


def plan_export(
    checkpoint_dir: Path,
    *,
    quant: str = "f16",
    profile: ModelProfile | None = None,
    card: ModelCard | None = None,
) -> ExportPlan:
    checkpoint, exporter = _open(checkpoint_dir, quant, profile, card, hash_source=False)
    plans = exporter.check()
    return ExportPlan(checkpoint.architecture, quant, _float_type(quant), plans["text"], plans["mmproj"])


def _disk_error(path: Path, exc: OSError) -> ConversionError:
    # numpy's tofile reports a short write without an errno ("N requested and M written").
    short_write = exc.errno is None and "written" in str(exc)
    if exc.errno in _DISK_ERRORS or short_write:
        return ConversionError(
            f"not enough disk space to write {path.name} in {path.parent} "
            f"({exc.strerror or exc}); nothing was left behind"
        )
    return ConversionError(f"cannot write {path} ({exc.strerror or exc})")


def _scratch_type(checkpoint: Checkpoint, target: str) -> str | None:
    """The quantizer's source type: f32 where an f16 copy would round the weights first (an f32
    checkpoint, or any checkpoint bound for bf16, whose range f16 does not hold); else the
    exporter's float type. An f32 scratch copy takes twice the disk of an f16 one."""
    return "f32" if checkpoint.stores_f32 or target == "bf16" else None


def export_checkpoint(
    checkpoint_dir: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    quant: str | None = None,
    outtype: str | None = None,
    profile: ModelProfile | None = None,
    mmproj_quant: str | None = None,
    card: ModelCard | None = None,
) -> ExportResult:
    """Convert ``checkpoint_dir``. ``quant`` is one of QUANTS (``outtype`` is its older name,
    kept for f32/f16); ``mmproj_quant`` (f32, f16, q8_0 or bf16) is the projector's type (default: the
    architecture's ``default_projector``, else f16, or f32 with ``quant`` f32). ``card``
    defaults to the checkpoint's ``fakescope-card.toml`` when it has one."""
    quant = quant or outtype or "f16"
    if mmproj_quant not in (None, *MMPROJ_TYPES):
        raise ConversionError(
            f"unsupported projector type {mmproj_quant!r}; choose from {', '.join(MMPROJ_TYPES)}"
        )
    checkpoint, exporter = _open(checkpoint_dir, quant, profile, card)
    exporter.check()  # plans, vocabulary, processor: fail before anything is written
    mmproj_quant = mmproj_quant or exporter.default_projector

    stem = name or checkpoint.root.name
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        raise ConversionError(f"invalid model name {stem!r}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(f"cannot create output folder {out_dir} ({exc.strerror})") from exc
    text = out_dir / f"{stem}.gguf"
    mmproj = out_dir / f"{stem}.mmproj.gguf"
    manifest_path = out_dir / f"{stem}.manifest.json"
    partial: dict[Path, Path] = {p: p.with_name(p.name + ".partial") for p in (text, mmproj, manifest_path)}
    scratch = text.with_name(text.name + ".scratch.partial")
    mmproj_scratch = mmproj.with_name(mmproj.name + ".scratch.partial")
    current = text
    try:
        if quant in QUANT_TYPES:
            # The quantizer starts from the checkpoint's own precision: an f16 copy of f32 weights
            # rounds twice (FakeScope-mini at iq4_nl: mean logit error 0.67 from f16, 0.36 from f32).
            text_plan = exporter.write_text(scratch, _scratch_type(checkpoint, quant))
            quantize_text_gguf(scratch, partial[text], quant, atomic=False)
            scratch.unlink()
        else:
            text_plan = exporter.write_text(partial[text])
        current = mmproj
        if mmproj_quant in QUANT_TYPES:
            mmproj_plan = exporter.write_mmproj(mmproj_scratch, _scratch_type(checkpoint, mmproj_quant))
            quantize_text_gguf(mmproj_scratch, partial[mmproj], mmproj_quant, atomic=False)
            mmproj_scratch.unlink()
        else:
            mmproj_plan = exporter.write_mmproj(partial[mmproj], mmproj_quant)
        current = manifest_path
        mmproj_type = mmproj_quant or exporter.outtype
        manifest = _manifest(
            stem, checkpoint, exporter, (quant, mmproj_type), partial[text], partial[mmproj], text, mmproj
        )
        partial[manifest_path].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for final, temporary in partial.items():
            current = final
            os.replace(temporary, final)
    except OSError as exc:
        raise _disk_error(current, exc) from exc
    finally:
        for temporary in (*partial.values(), scratch, mmproj_scratch):
            temporary.unlink(missing_ok=True)
    return ExportResult(text, mmproj, manifest_path, text_plan, mmproj_plan, exporter.warnings)


def _manifest(
    stem: str,
    checkpoint: Checkpoint,
    exporter: ArchitectureExporter,
    types: tuple[str, str],
    text_partial: Path,
    mmproj_partial: Path,
    text: Path,
    mmproj: Path,
) -> dict[str, object]:
    def entry(final: Path, written: Path, kind: str) -> dict[str, object]:
        return {
            "file": final.name,
            "type": kind,
            "sha256": file_sha256(written),
            "bytes": written.stat().st_size,
        }

    manifest: dict[str, object] = {
        "format": MANIFEST_FORMAT,
        "name": stem,
        "architecture": checkpoint.architecture,
        "quantization": types[0],
        "tool": "fakescope conversion",
        "converter_version": CONVERTER_VERSION,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": {"folder": checkpoint.root.name, "sha256": exporter.source_sha256},
        "source_sha256": exporter.source_sha256,
        "profile": {k: v for k, v in asdict(exporter.profile).items() if k != "from_model"},
        "files": {
            "text": entry(text, text_partial, types[0]),
            "mmproj": entry(mmproj, mmproj_partial, types[1]),
        },
    }
    if exporter.card is not None:
        manifest["card"] = asdict(exporter.card)
    return manifest
