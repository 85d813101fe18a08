"""Export a checkpoint to ``NAME.gguf`` + ``NAME.mmproj.gguf`` + ``NAME.manifest.json``.

Files are written under temporary names and renamed only when complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from conversion import CONVERTER_VERSION
from conversion.base import TensorPlan
from conversion.checkpoint import Checkpoint
from conversion.registry import exporter_for
from fakescope_cli.errors import ConversionError
from fakescope_cli.models import file_sha256
from fakescope_cli.profile import DEFAULT_PROFILE, ModelProfile

MANIFEST_FORMAT = "fakescope.manifest/1"


@dataclass(frozen=True)
class ExportResult:
    text: Path
    mmproj: Path
    manifest: Path
    text_tensors: list[TensorPlan]
    mmproj_tensors: list[TensorPlan]


def _write_atomically(final: Path, write) -> list[TensorPlan]:
    partial = final.with_name(final.name + ".partial")
    try:
        plan = write(partial)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return plan


def export_checkpoint(
    checkpoint_dir: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    outtype: str = "f16",
    profile: ModelProfile | None = None,
) -> ExportResult:
    checkpoint = Checkpoint.open(checkpoint_dir)
    exporter_cls = exporter_for(checkpoint.architecture)
    profile = profile or DEFAULT_PROFILE
    source_sha = checkpoint.sha256()
    exporter = exporter_cls(checkpoint, outtype, profile, source_sha)

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or checkpoint.root.name
    if not stem or "/" in stem or stem.startswith("."):
        raise ConversionError(f"invalid model name {stem!r}")
    text = out_dir / f"{stem}.gguf"
    mmproj = out_dir / f"{stem}.mmproj.gguf"
    text_plan = _write_atomically(text, exporter.write_text)
    mmproj_plan = _write_atomically(mmproj, exporter.write_mmproj)

    manifest_path = out_dir / f"{stem}.manifest.json"
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": stem,
        "architecture": checkpoint.architecture,
        "outtype": outtype,
        "converter_version": CONVERTER_VERSION,
        "source_sha256": source_sha,
        "profile": {k: v for k, v in asdict(profile).items() if k != "from_model"},
        "files": {
            "text": {"file": text.name, "sha256": file_sha256(text), "bytes": text.stat().st_size},
            "mmproj": {"file": mmproj.name, "sha256": file_sha256(mmproj), "bytes": mmproj.stat().st_size},
        },
    }
    partial = manifest_path.with_name(manifest_path.name + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, manifest_path)
    return ExportResult(text, mmproj, manifest_path, text_plan, mmproj_plan)
