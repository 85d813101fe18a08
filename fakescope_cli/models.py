"""Find and validate a model pair (text GGUF + mmproj GGUF).

Lookup order, first hit wins: ``--model/--mmproj`` flags, ``FAKESCOPE_MODEL`` /
``FAKESCOPE_MMPROJ``, the config file (``model = ...``, ``mmproj = ...``), the default
models folders (see :func:`fakescope_cli.paths.models_dirs`), and last the model bundled with a
source checkout (``models/fakescope-mini/``), checked against its manifest's SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable, Mapping
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
        installed = _installed_by_name(str(model))
        if installed is None:
            raise ModelFileError(f"{model}: model file not found ({found_by})")
        model, found_by = installed, f"{found_by} {model} (installed in {installed.parent})"
    return ModelFiles(model, mmproj.expanduser() if mmproj else _partner_of(model), found_by)


def _installed_by_name(name: str) -> Path | None:
    """``NAME.gguf`` in a models folder, for a bare name such as ``fakevlm`` (as `model list` shows)."""
    if not name or "/" in name or "\\" in name or name.endswith(".gguf") or name.startswith("."):
        return None
    for folder in paths.models_dirs():
        candidate = folder / f"{name}.gguf"
        if candidate.is_file():
            return candidate
    return None


def _read_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc


def config_value(key: str) -> object | None:
    """One key of the user's config file (None when absent)."""
    return _read_config(paths.config_file()).get(key)


def _bundled_model(mmproj: Path | None, digest: Callable[[Path], str]) -> ModelFiles | None:
    """The bundled default model; when a manifest is there, every file must match it."""
    from fakescope_cli.install import MANIFEST_SUFFIX, read_manifest

    folder = paths.bundled_model_dir()
    if not folder.is_dir():
        return None
    found_by = f"bundled model {folder}"
    manifests = sorted(folder.glob("*" + MANIFEST_SUFFIX))
    if not manifests:
        pair = _pair_in_folder(folder)
        return None if pair is None else ModelFiles(pair[0], mmproj or pair[1], found_by)
    if len(manifests) > 1:
        raise ModelFileError(f"{folder}: several manifests; the bundled folder holds one model")
    manifest_path = manifests[0]
    chosen: dict[str, Path] = {}
    for entry in read_manifest(manifest_path).files:
        path = folder / entry.file
        if not path.is_file():
            raise ModelFileError(f"{path}: missing, but the bundled model's {manifest_path.name} lists it")
        try:
            if _is_lfs_pointer(path):
                raise ModelFileError(f"{path}: a Git LFS pointer, not the model; run 'git lfs pull'")
            size = path.stat().st_size
            actual = digest(path) if entry.size in (None, size) else None
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if actual != entry.sha256:
            found = f"SHA-256 {actual[:16]}..." if actual else f"{size} bytes"
            raise ModelFileError(
                f"{path}: {found} does not match {manifest_path.name}; the bundled model is damaged or "
                "was replaced (restore it, or pass --model)"
            )
        chosen[entry.kind] = path
    return ModelFiles(chosen["text"], mmproj or chosen["mmproj"], found_by)


def _is_lfs_pointer(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(24) == b"version https://git-lfs."


def locate_model(
    model: Path | None = None,
    mmproj: Path | None = None,
    environ: Mapping[str, str] | None = None,
    digest: Callable[[Path], str] | None = None,
    how_to_pass: str = "Pass --model FILE.gguf (and --mmproj)",
) -> ModelFiles:
    """The model pair to use (see the module docstring for the order); ``digest`` hashes a file
    (default :func:`file_sha256`; a scan passes its cache's); ``how_to_pass`` starts the advice when
    none is found (commands that take the model otherwise say so). A folder that cannot be entered
    is a :class:`ModelFileError` naming it."""
    try:
        return _locate(model, mmproj, environ, digest, how_to_pass)
    except OSError as exc:
        where = exc.filename or model or "the model folder"
        raise ModelFileError(f"{where}: cannot open ({exc.strerror or exc})") from None


def _locate(
    model: Path | None,
    mmproj: Path | None,
    environ: Mapping[str, str] | None,
    digest: Callable[[Path], str] | None,
    how_to_pass: str,
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
    bundled = _bundled_model(mmproj, digest or file_sha256)
    if bundled is not None:
        return bundled
    raise ModelNotFoundError(
        f"no model found. {how_to_pass}, set FAKESCOPE_MODEL, add "
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
