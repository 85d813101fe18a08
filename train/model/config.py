"""`python -m train sft --config CONFIG.toml`: the run's settings, checked before any GPU time is
spent. Unknown keys are errors that name the key (and the closest known one)."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError


@dataclass(frozen=True)
class ModelSection:
    checkpoint: Path  # a Hugging Face checkpoint folder


@dataclass(frozen=True)
class DataSection:
    train: Path  # FakeInstruct / LLaVA conversation JSON
    image_root: Path | None = None  # where relative image paths start (default: the JSON's folder)
    split: str = "train"  # items whose "split" is another are left out ("" = use every item)
    max_items: int = 0  # 0 = all
    # Teacher logits for the judgment items' images (``train.run.mini.tower_targets``), for the
    # distillation term of ``train.distill_weight`` (``train.model.distill``).
    teacher: Path | None = None


@dataclass(frozen=True)
class TrainSection:
    output_dir: Path = Path("runs/sft")
    method: str = "lora"  # "lora" or "full"
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    bf16: str = "auto"  # "auto" (on a GPU that has it), "on", "off"
    gradient_checkpointing: bool = False
    save_steps: int = 200
    logging_steps: int = 10
    resume: bool = True  # continue from the newest checkpoint in output_dir
    max_length: int = 2048
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    train_vision: bool = True  # LoRA: also train the vision tower in full
    train_connector: bool = True  # LoRA: also train the connector (projector) in full
    distill_weight: float = 0.0  # weight of the distillation term (0: hard labels alone)
    distill_temperature: float = 1.0  # teacher logits are divided by this before the sigmoid


@dataclass(frozen=True)
class ExportSection:
    enabled: bool = True
    out_dir: Path = Path("models")
    name: str = "fakescope-sft"
    outtype: str = "f16"
    profile: Path | None = None  # profile TOML written into the GGUF (default profile otherwise)


@dataclass(frozen=True)
class SFTConfig:
    model: ModelSection
    data: DataSection
    train: TrainSection
    export: ExportSection
    source: Path


_SECTIONS = {"model": ModelSection, "data": DataSection, "train": TrainSection, "export": ExportSection}


def _typed(kind: str, value: Any, where: str, base: Path) -> Any:
    """``value`` checked against the field's annotation (as written in this module)."""
    if "Path" in kind:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"'{where}' must be a path (a string), not {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "list[str]":
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"'{where}' must be {kind}, not {value!r}")
    return float(value) if kind == "float" else value


def build_section(cls: type, table: dict[str, Any], section: str, base: Path) -> Any:
    """A dataclass from one TOML table: unknown keys named (with the closest known one), values
    checked against the field types, relative paths resolved against ``base``."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ConfigError(f"unknown key '{section}.{key}'{suggestion}")
        values[key] = _typed(str(known[key].type), value, f"{section}.{key}", base)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{section}] is missing a required key ({exc})") from None


def read_toml_tables(path: Path, allowed: list[str]) -> dict[str, Any]:
    """A TOML file whose top-level tables must be among ``allowed`` (an unknown one is named)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for name in raw:
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            raise ConfigError(
                f"{path}: unknown section [{name}]" + (f" (did you mean [{hint[0]}]?)" if hint else "")
            )
    return raw


def load_config(path: Path) -> SFTConfig:
    raw = read_toml_tables(path, list(_SECTIONS))
    base = path.parent
    try:
        sections = {
            name: build_section(cls, raw.get(name, {}), name, base) for name, cls in _SECTIONS.items()
        }
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config = SFTConfig(source=path, **sections)
    _check(config)
    return config


EXPORT_TYPES = (
    "f32",
    "f16",
    "bf16",
    "q8_0",
    "q6_k",
    "q5_k_m",
    "q4_k_m",
    "iq4_nl",
    "q4_0",
)  # conversion.export.QUANTS
PROJECTOR_TYPES = ("f32", "f16", "q8_0", "bf16")  # conversion.export.MMPROJ_TYPES


def _check(config: SFTConfig) -> None:
    """Everything that can be checked before a model is loaded."""
    where = config.source
    train = config.train
    positive = {
        "batch_size": train.batch_size,
        "grad_accum": train.grad_accum,
        "lora_r": train.lora_r,
        "lora_alpha": train.lora_alpha,
        "max_length": train.max_length,
        "save_steps": train.save_steps,
        "logging_steps": train.logging_steps,
        "learning_rate": train.learning_rate,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{where}: train.{key} must be above 0, not {value}")
    if train.max_steps <= 0 and train.epochs <= 0:
        raise ConfigError(f"{where}: set train.epochs above 0, or train.max_steps")
    if not 0.0 <= train.lora_dropout < 1.0 or not 0.0 <= train.warmup_ratio < 1.0:
        raise ConfigError(f"{where}: train.lora_dropout and train.warmup_ratio must be in [0, 1)")
    if not train.lora_targets:
        raise ConfigError(f"{where}: train.lora_targets must name at least one layer")
    if config.export.outtype not in EXPORT_TYPES:
        raise ConfigError(f"{where}: export.outtype must be one of {', '.join(EXPORT_TYPES)}")
    name = config.export.name
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"{where}: export.name must be a plain file name, not {name!r}")
    if config.train.method not in ("lora", "full"):
        raise ConfigError(f"{where}: train.method must be 'lora' or 'full', not {config.train.method!r}")
    if config.train.bf16 not in ("auto", "on", "off"):
        raise ConfigError(f"{where}: train.bf16 must be 'auto', 'on' or 'off'")
    if not (config.model.checkpoint / "config.json").is_file():
        raise ConfigError(f"{where}: model.checkpoint {config.model.checkpoint} has no config.json")
    if train.distill_weight < 0 or train.distill_temperature <= 0:
        raise ConfigError(
            f"{where}: train.distill_weight must be 0 or more, train.distill_temperature above 0"
        )
    if train.distill_weight > 0 and config.data.teacher is None:
        raise ConfigError(f"{where}: train.distill_weight needs data.teacher (the teacher logits)")
    if config.data.teacher is not None and not config.data.teacher.is_file():
        raise ConfigError(f"{where}: data.teacher {config.data.teacher} does not exist")
    if not config.data.train.is_file():
        raise ConfigError(f"{where}: data.train {config.data.train} does not exist")
    if config.export.profile is not None and not config.export.profile.is_file():
        raise ConfigError(f"{where}: export.profile {config.export.profile} does not exist")
