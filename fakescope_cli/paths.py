"""Per-user folders (config, data, cache), following each platform's convention."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "fakescope"


def _home() -> Path:
    return Path.home()


def config_dir() -> Path:
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", _home() / "AppData" / "Roaming")) / APP
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / APP


def data_dir() -> Path:
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", _home() / "AppData" / "Local")) / APP
    return Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share") / APP


def cache_dir() -> Path:
    """``$FAKESCOPE_CACHE_DIR`` or the platform's per-user cache folder."""
    override = os.environ.get("FAKESCOPE_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / APP
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", _home() / "AppData" / "Local")) / APP / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or _home() / ".cache") / APP


def config_file() -> Path:
    """``$FAKESCOPE_CONFIG`` or ``<config dir>/config.toml``."""
    override = os.environ.get("FAKESCOPE_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def source_root() -> Path:
    """The folder above the package: the repository root in a source checkout, where `models/`
    and the bundled default model are looked for; ``$FAKESCOPE_SOURCE_ROOT`` moves it (tests,
    packagers)."""
    override = os.environ.get("FAKESCOPE_SOURCE_ROOT")
    return Path(override) if override else Path(__file__).resolve().parent.parent


def models_dirs() -> list[Path]:
    """Default model folders, searched in order: the user's models folder, then the repository's."""
    override = os.environ.get("FAKESCOPE_MODELS_DIR")
    user = Path(override) if override else data_dir() / "models"
    return [user, source_root() / "models"]


BUNDLED_MODEL = "fakescope-mini"


def bundled_model_dir() -> Path:
    """The default model shipped in a source checkout, searched last."""
    return source_root() / "models" / BUNDLED_MODEL
