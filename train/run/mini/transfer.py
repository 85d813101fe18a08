"""What a FakeScope-mini run hands back from the GPU machine, in parts small enough to come back.

The GPU machine returns at most 8 files of 16 MiB per call, so ``pack`` puts the part of the run
folder the rest of the run needs into one tar archive and splits it (``stage``) into parts:

- the stage records, the generator configs and generation records, the tuning config;
- the trained weights alone (``sft/adapter``: LoRA factors, vision tower and connector);
- the processed data set's manifest, and the images of the evaluation split (the others are
  not needed for evaluation, and the manifest keeps their count for the model card).

``unpack`` joins and verifies the parts and extracts them into a run folder elsewhere, where
``mini-run --from export`` merges the adapter into a starting checkpoint rebuilt there.
"""

from __future__ import annotations

import csv
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.errors import ConfigError
from train.run.mini.stage import StageError, join_parts, split_files

ARCHIVE = "mini-run.tar"
DEFAULT_PART_MB = 15.0  # under the 16 MiB a returned file may have
MAX_FILES = 8  # what one device call hands back at most: 8 files, 64 MiB together
MAX_TOTAL_MB = 64.0


@dataclass(frozen=True)
class PackResult:
    parts: list[Path]
    files: int
    archive_bytes: int


def _evaluation_images(work: Path, split: str) -> list[Path]:
    manifest = work / "data" / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as fh:
        return [Path("data") / row["path"] for row in csv.DictReader(fh) if row["split"] == split]


def files_to_pack(work: Path, split: str = "test") -> list[Path]:
    """Paths relative to ``work``, in a stable order."""
    chosen: list[Path] = []
    for pattern in (
        "stages/*.json",
        "generators/*/config.json",
        "generated/*/generation.json",
        "crops/*/manifest.csv",
        "sft.toml",
        "data/manifest.csv",
        "sft/adapter/**/*",
    ):
        chosen += sorted(p.relative_to(work) for p in work.glob(pattern) if p.is_file())
    chosen += _evaluation_images(work, split)
    if not (work / "sft" / "adapter" / "adapter_config.json").is_file():
        raise ConfigError(
            f"{work}: no sft/adapter to hand back (run mini-run up to sft with method = 'lora')"
        )
    return chosen


def pack(
    work: Path,
    out: Path,
    part_mb: float = DEFAULT_PART_MB,
    split: str = "test",
    max_files: int = MAX_FILES,
    max_total_mb: float = MAX_TOTAL_MB,
) -> PackResult:
    """The parts in ``out``; refused before anything is written there when they would not all
    come back (more than ``max_files`` files with the manifest, or over ``max_total_mb``)."""
    files = files_to_pack(work, split)
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / ARCHIVE
        with tarfile.open(archive, "w") as tar:
            for relative in files:
                tar.add(work / relative, arcname=relative.as_posix(), recursive=False)
        size = archive.stat().st_size
        count = -(-size // int(part_mb * (1 << 20))) + 1  # and the manifest
        if count > max_files or size > max_total_mb * (1 << 20):
            raise ConfigError(
                f"{work}: the packed run is {size / 2**20:.1f} MiB in {count} files, over what one call "
                f"hands back ({max_files} files, {max_total_mb:g} MiB); pack fewer test images or "
                "hand back in two calls"
            )
        out.mkdir(parents=True, exist_ok=True)
        try:
            split_files([archive], out, part_mb)
        except StageError as exc:
            raise ConfigError(str(exc)) from None
    parts = sorted(p for p in out.iterdir() if p.is_file())
    return PackResult(parts, len(files), size)


def unpack(parts: Path, work: Path) -> int:
    """Join ``parts`` (a stage folder), verify, and extract into ``work``; returns the file count."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            (archive,) = join_parts(parts, Path(folder))
        except StageError as exc:
            raise ConfigError(str(exc)) from None
        except ValueError:
            raise ConfigError(f"{parts}: expected one packed run archive") from None
        work.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                if not member.isfile():
                    raise ConfigError(f"{parts}: {member.name!r} in the archive is not a plain file")
            tar.extractall(work, filter="data")
    return len(members)
