"""The list of real photographs inside Debian packages (``sources.toml``), read into dataclasses.

Each package table may give ``licence`` and ``copyright`` for all its photos; each photo gives
``path`` (inside the package) and may override them, and may add ``id`` (default: the file stem),
``author`` (the photographer, where the package names one), ``shows`` and ``note``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fakescope_cli.errors import DatasetError

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
_PACKAGE_KEYS = {"licence", "copyright", "photos"}
_PHOTO_KEYS = {"path", "id", "licence", "copyright", "author", "shows", "note"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PhotoSource:
    """One photograph inside one Debian package, with its licence as the package states it."""

    package: str
    path: str  # inside the package, without a leading slash
    id: str  # "<package>/<name>", unique
    licence: str
    copyright: str
    author: str = ""
    shows: str = ""
    note: str = ""


def load_sources(path: Path = DEFAULT_SOURCES) -> dict[str, list[PhotoSource]]:
    """Package name -> its photographs; DatasetError naming the file and the key on any problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - {"packages"})
    if unknown:
        raise DatasetError(f"{path}: unknown key {unknown[0]!r} (expected [packages.<name>] tables)")
    packages = raw.get("packages", {})
    if not isinstance(packages, dict) or not packages:
        raise DatasetError(f"{path}: no [packages.<name>] tables")
    return {name: _package(path, name, table) for name, table in sorted(packages.items())}


def _package(path: Path, name: str, table: Any) -> list[PhotoSource]:
    where = f"{path}: packages.{name}"
    if not _NAME.match(name):
        raise DatasetError(f"{where}: not a Debian package name")
    if not isinstance(table, dict):
        raise DatasetError(f"{where}: expected a table")
    unknown = sorted(set(table) - _PACKAGE_KEYS)
    if unknown:
        raise DatasetError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_PACKAGE_KEYS))}")
    photos = table.get("photos")
    if not isinstance(photos, list) or not photos:
        raise DatasetError(f"{where}: 'photos' must be a non-empty list")
    result: list[PhotoSource] = []
    seen: set[str] = set()
    for index, entry in enumerate(photos):
        photo = _photo(f"{where}.photos[{index}]", name, table, entry)
        if photo.id in seen:
            raise DatasetError(f"{where}.photos[{index}]: id {photo.id!r} is used twice")
        seen.add(photo.id)
        result.append(photo)
    return result


def _photo(where: str, package: str, defaults: dict[str, Any], entry: Any) -> PhotoSource:
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: expected a table")
    unknown = sorted(set(entry) - _PHOTO_KEYS)
    if unknown:
        raise DatasetError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_PHOTO_KEYS))}")
    values: dict[str, str] = {}
    for key in _PHOTO_KEYS:
        value = entry.get(key, defaults.get(key, "") if key in ("licence", "copyright") else "")
        if not isinstance(value, str):
            raise DatasetError(f"{where}: {key} must be text")
        values[key] = value.strip()
    inner = PurePosixPath(values["path"].lstrip("/"))
    if not values["path"] or ".." in inner.parts:
        raise DatasetError(f"{where}: 'path' must be a file path inside the package")
    for key in ("licence", "copyright"):
        if not values[key]:
            raise DatasetError(f"{where}: no {key} (give it on the photo or the package)")
    name = values["id"] or inner.stem
    if not _ID.match(name):
        raise DatasetError(f"{where}: id {name!r} may hold only letters, digits, . _ -")
    return PhotoSource(
        package=package,
        path=str(inner),
        id=f"{package}/{name}",
        licence=values["licence"],
        copyright=values["copyright"],
        author=values["author"],
        shows=values["shows"],
        note=values["note"],
    )
