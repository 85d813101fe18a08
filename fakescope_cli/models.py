"""Find and validate a model pair (text GGUF + mmproj GGUF).

Lookup order, first hit wins: ``--model/--mmproj`` flags, ``FAKESCOPE_MODEL`` /
``FAKESCOPE_MMPROJ``, the config file (``model = ...``, ``mmproj = ...``), then the default
models folders (see :func:`fakescope_cli.paths.models_dirs`).
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli import paths
from fakescope_cli.errors import ConfigError, ModelFileError, ModelNotFoundError
from fakescope_cli.gguf_header import GGUFHeader, read_header

MMPROJ_SUFFIX = ".mmproj.gguf"


@dataclass(frozen=True)
class ModelFiles:
    text: Path
    mmproj: Path
    found_by: str


def _is_mmproj_name(path: Path) -> bool:
    return "mmproj" in path.name.lower()


def _pair_in_folder(folder: Path) -> tuple[Path, Path] | None:
    texts = sorted(p for p in folder.glob("*.gguf") if not _is_mmproj_name(p))
    if not texts:
        return None
    if len(texts) > 1:
        names = ", ".join(p.name for p in texts)
        raise ModelNotFoundError(f"{folder} holds several models ({names}); pick one with --model")
    return texts[0], _partner_of(texts[0])


def _partner_of(text: Path) -> Path:
    """The mmproj beside a text GGUF: NAME.mmproj.gguf, else the only *mmproj*.gguf there."""
    sibling = text.with_name(text.name[: -len(".gguf")] + MMPROJ_SUFFIX)
    if sibling.is_file():
        return sibling
    candidates = sorted(p for p in text.parent.glob("*.gguf") if _is_mmproj_name(p))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelNotFoundError(f"no vision projector (mmproj) found beside {text}; pass --mmproj")
    raise ModelNotFoundError(f"several mmproj files beside {text}; pass --mmproj")


def _resolve(model: Path, mmproj: Path | None, found_by: str) -> ModelFiles:
    model = model.expanduser()
    if model.is_dir():
        pair = _pair_in_folder(model)
        if pair is None:
            raise ModelNotFoundError(f"{model}: no .gguf model in this folder")
        text, partner = pair
        return ModelFiles(text, mmproj.expanduser() if mmproj else partner, found_by)
    if not model.exists():
        raise ModelFileError(f"{model}: model file not found ({found_by})")
    return ModelFiles(model, mmproj.expanduser() if mmproj else _partner_of(model), found_by)


def _read_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc


def locate_model(
    model: Path | None = None,
    mmproj: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ModelFiles:
    env = os.environ if environ is None else environ
    if model is not None:
        return _resolve(model, mmproj, "--model")
    if env.get("FAKESCOPE_MODEL"):
        env_mmproj = env.get("FAKESCOPE_MMPROJ")
        return _resolve(
            Path(env["FAKESCOPE_MODEL"]), Path(env_mmproj) if env_mmproj else mmproj, "FAKESCOPE_MODEL"
        )
    config_path = paths.config_file()
    config = _read_config(config_path)
    if config.get("model"):
        cfg_mmproj = config.get("mmproj")
        return _resolve(
            Path(str(config["model"])),
            Path(str(cfg_mmproj)) if cfg_mmproj else mmproj,
            f"config {config_path}",
        )
    searched = []
    for folder in paths.models_dirs():
        searched.append(str(folder))
        if folder.is_dir():
            pair = _pair_in_folder(folder)
            if pair is not None:
                return ModelFiles(pair[0], mmproj or pair[1], f"models folder {folder}")
    raise ModelNotFoundError(
        "no model found. Pass --model FILE.gguf (and --mmproj), set FAKESCOPE_MODEL, add "
        f"'model = \"...\"' to {config_path}, or put a model pair in one of: {', '.join(searched)}. "
        "File evidence alone needs no model: 'fakescope evidence PATH'."
    )


@dataclass(frozen=True)
class ValidatedModel:
    files: ModelFiles
    text: GGUFHeader
    mmproj: GGUFHeader


def validate_pair(files: ModelFiles) -> ValidatedModel:
    """Check both files are whole GGUFs of the right kinds and belong together."""
    text = read_header(files.text)
    proj = read_header(files.mmproj)
    if text.architecture == "clip":
        raise ModelFileError(
            f"{files.text}: this is a vision projector, not a text model (swap --model/--mmproj?)"
        )
    if proj.architecture != "clip":
        raise ModelFileError(f"{files.mmproj}: not a vision projector (architecture {proj.architecture!r})")
    n_embd = text.metadata.get(f"{text.architecture}.embedding_length")
    proj_dim = proj.metadata.get("clip.vision.projection_dim")
    if isinstance(n_embd, int) and isinstance(proj_dim, int) and n_embd != proj_dim:
        raise ModelFileError(
            f"{files.mmproj} does not belong to {files.text}: projector outputs {proj_dim} "
            f"features, the text model takes {n_embd}"
        )
    return ValidatedModel(files, text, proj)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
