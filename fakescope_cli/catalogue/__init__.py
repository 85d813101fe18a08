"""The catalogue of published detectors `fakescope model pull NAME` knows (``models.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.card import ModelCard
from fakescope_cli.errors import ConfigError

CATALOGUE_FILE = Path(__file__).with_name("models.toml")


@dataclass(frozen=True)
class ExtraFiles:
    """Files taken from a second repository when the weight repository lacks them."""

    repo: str
    revision: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    title: str
    repo: str
    revision: str
    architecture: str
    parameters: int
    download_bytes: int
    installed_bytes: int
    profile: str
    quant: str
    licence: str
    card: ModelCard
    tokenizer_from: ExtraFiles | None = None

    @property
    def source(self) -> str:
        return f"hf:{self.repo}@{self.revision}"


def _entry(name: str, data: dict[str, Any]) -> CatalogueEntry:
    extra = data.get("tokenizer_from")
    card = data.get("card") or {}
    try:
        return CatalogueEntry(
            name=name,
            title=str(data["title"]),
            repo=str(data["repo"]),
            revision=str(data.get("revision", "main")),
            architecture=str(data["architecture"]),
            parameters=int(data["parameters"]),
            download_bytes=int(data["download_bytes"]),
            installed_bytes=int(data["installed_bytes"]),
            profile=str(data["profile"]),
            quant=str(data.get("quant", "q4_k_m")),
            licence=str(data.get("licence", "see the model's hub page")),
            card=ModelCard(card.get("caveat"), card.get("limits")),
            tokenizer_from=ExtraFiles(
                str(extra["repo"]), str(extra.get("revision", "main")), tuple(extra["files"])
            )
            if extra
            else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{CATALOGUE_FILE}: entry {name!r} is incomplete ({exc})") from None


def load_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, CatalogueEntry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the model catalogue ({exc})") from None
    return {name: _entry(name, item) for name, item in data.items()}


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return load_catalogue().get(name)
