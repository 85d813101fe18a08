"""Copy the listed photographs out of Debian packages into a cache folder.

``apt-get download`` (network, only when a package is named rather than given as a ``.deb``
file) puts the package in ``CACHE/debs/``; ``dpkg-deb -x`` extracts it into a temporary folder
(no root needed); the listed files and the package's copyright file are copied to
``CACHE/files/<package>/``; ``CACHE/fetched.json`` records each package's version and each
photo's SHA-256 and size, with its licence from ``sources.toml``. A path of the form
``ARCHIVE.rcc!/MEMBER`` names a file inside a compiled Qt resource file in the package (GCompris
packs its images so); it is unpacked with :func:`rcc_member`.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.errors import DatasetError
from fakescope_cli.models import file_sha256
from train.data.photos.sources import PhotoSource
from train.io import atomic_write_text

FETCHED = "fetched.json"
RCC_SEPARATOR = "!/"  # "usr/share/x/data.rcc!/images/a.webp": a file inside a Qt resource file


@dataclass(frozen=True)
class FetchedPhoto:
    """A photograph copied out of a package, with where it came from and its checksum."""

    id: str
    package: str
    version: str
    path: str  # inside the package
    file: str  # relative to the cache folder
    licence: str
    copyright: str
    author: str
    shows: str
    note: str
    sha256: str
    size: int


@dataclass(frozen=True)
class FetchedPackage:
    name: str
    version: str
    deb: str  # file name of the .deb
    deb_sha256: str
    copyright_file: str | None  # relative to the cache folder
    photos: int


def _run(command: Sequence[str], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DatasetError(f"{command[0]} not found: {what} needs the Debian tools (dpkg, apt)") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DatasetError(f"{what} failed: {last}")
    return done.stdout


def download(name: str, folder: Path) -> Path:
    """``apt-get download NAME`` into ``folder``; the newest ``NAME_*.deb`` there."""
    folder.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "download", name], f"apt-get download {name}", cwd=folder)
    found = sorted(folder.glob(f"{name}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise DatasetError(f"apt-get download {name}: no {name}_*.deb appeared in {folder}")
    return found[-1]


def deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field], f"dpkg-deb -f {deb} {field}").strip()


def fetch(cache: Path, wanted: Sequence[str], sources: dict[str, list[PhotoSource]]) -> list[FetchedPackage]:
    """Fetch each of ``wanted`` (package names or ``.deb`` paths; empty: every listed package)."""
    items = list(wanted) or sorted(sources)
    state = _read_state(cache)
    done: list[FetchedPackage] = []
    for item in items:
        local = item.endswith(".deb") or "/" in item
        if local:
            deb = Path(item)
            if not deb.is_file():
                raise DatasetError(f"{deb}: no such .deb file")
            name = deb_field(deb, "Package")
        else:
            name = item
        if name not in sources:
            raise DatasetError(
                f"package {name!r} is not listed in sources.toml; listed: {', '.join(sorted(sources))}"
            )
        if not local:
            deb = download(name, cache / "debs")
        package, photos = _extract(cache, deb, name, sources[name])
        state["packages"][name] = asdict(package)
        kept = [p for p in state["photos"] if p["package"] != name]
        state["photos"] = sorted(kept + [asdict(p) for p in photos], key=lambda p: p["id"])
        atomic_write_text(cache / FETCHED, json.dumps(state, indent=2, ensure_ascii=False) + "\n")
        done.append(package)
    return done


def _extract(
    cache: Path, deb: Path, name: str, listed: list[PhotoSource]
) -> tuple[FetchedPackage, list[FetchedPhoto]]:
    version = deb_field(deb, "Version")
    target = cache / "files" / name
    photos: list[FetchedPhoto] = []
    with tempfile.TemporaryDirectory(prefix="fakescope-deb-") as temporary:
        root = Path(temporary)
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb}")
        where = f"{deb}: package {name} {version}"
        contents = {photo.path: _read_listed(root, photo.path, where) for photo in listed}
        if target.exists():
            shutil.rmtree(target)
        for photo in listed:
            destination = target / photo.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(contents[photo.path])
            photos.append(
                FetchedPhoto(
                    id=photo.id,
                    package=name,
                    version=version,
                    path=photo.path,
                    file=destination.relative_to(cache).as_posix(),
                    licence=photo.licence,
                    copyright=photo.copyright,
                    author=photo.author,
                    shows=photo.shows,
                    note=photo.note,
                    sha256=file_sha256(destination),
                    size=destination.stat().st_size,
                )
            )
        copyright_in = root / "usr" / "share" / "doc" / name / "copyright"
        copyright_file = None
        if copyright_in.is_file():
            shutil.copyfile(copyright_in, target / "copyright")
            copyright_file = (target / "copyright").relative_to(cache).as_posix()
    package = FetchedPackage(name, version, deb.name, file_sha256(deb), copyright_file, len(photos))
    return package, photos


def _read_listed(root: Path, path: str, where: str) -> bytes:
    """The bytes of a listed file in the extracted package, or of a member of a Qt resource file."""
    archive, _, member = path.partition(RCC_SEPARATOR)
    if not (root / archive).is_file():
        raise DatasetError(f"{where} has no file {archive} (listed in sources.toml)")
    data = (root / archive).read_bytes()
    if not member:
        return data
    found = rcc_member(data, member, f"{where}: {archive}")
    if found is None:
        raise DatasetError(f"{where}: {archive} has no member {member} (listed in sources.toml)")
    return found


_RCC_COMPRESSED, _RCC_DIRECTORY, _RCC_ZSTD = 0x01, 0x02, 0x04


def rcc_member(data: bytes, member: str, where: str) -> bytes | None:
    """The file ``member`` ("a/b/c.webp") of a compiled Qt resource file (format 1-3), or None.

    Layout: "qres", version, then offsets of the node tree, the data and the names. A node is a
    name offset and flags, then (directory) child count and first child index, or (file) locale
    and data offset; from version 2 a 64-bit time follows. Names are UTF-16BE after a length and
    a hash; data is a 32-bit length then the bytes, zlib ones led by their unpacked length.
    """
    try:
        if data[:4] != b"qres":
            raise DatasetError(f"{where}: not a Qt resource file (no 'qres' magic)")
        version, tree, body, names = struct.unpack_from(">4I", data, 4)
        if version not in (1, 2, 3):
            raise DatasetError(f"{where}: Qt resource format {version} is not supported (1-3)")
        node_size = 14 if version == 1 else 22

        def name_of(index: int) -> str:
            (offset,) = struct.unpack_from(">I", data, tree + index * node_size)
            (length,) = struct.unpack_from(">H", data, names + offset)
            start = names + offset + 6
            return data[start : start + 2 * length].decode("utf-16-be")

        index = 0  # the root directory
        for part in [p for p in member.split("/") if p]:
            (flags,) = struct.unpack_from(">H", data, tree + index * node_size + 4)
            if not flags & _RCC_DIRECTORY:
                return None
            count, first = struct.unpack_from(">2I", data, tree + index * node_size + 6)
            matches = [child for child in range(first, first + count) if name_of(child) == part]
            if not matches:
                return None
            index = matches[0]
        (flags,) = struct.unpack_from(">H", data, tree + index * node_size + 4)
        if flags & _RCC_DIRECTORY:
            return None
        (offset,) = struct.unpack_from(">I", data, tree + index * node_size + 10)
        (size,) = struct.unpack_from(">I", data, body + offset)
        payload = data[body + offset + 4 : body + offset + 4 + size]
        if len(payload) != size:
            raise DatasetError(f"{where}: member {member} runs past the end of the file")
        if flags & _RCC_ZSTD:
            raise DatasetError(f"{where}: member {member} is zstd-compressed (not supported)")
        if flags & _RCC_COMPRESSED:
            (unpacked,) = struct.unpack_from(">I", payload)
            payload = zlib.decompress(payload[4:])
            if len(payload) != unpacked:
                raise DatasetError(f"{where}: member {member} unpacks to the wrong size")
        return payload
    except (struct.error, UnicodeDecodeError, zlib.error) as exc:
        raise DatasetError(f"{where}: damaged Qt resource file ({exc})") from None


def _read_state(cache: Path) -> dict[str, Any]:
    path = cache / FETCHED
    if not path.exists():
        return {"packages": {}, "photos": []}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if not isinstance(state, dict) or not isinstance(state.get("photos"), list):
        raise DatasetError(f"{path}: not a fetch record (expected 'packages' and 'photos')")
    return state


def read_fetched(cache: Path) -> list[FetchedPhoto]:
    """The photos recorded in ``CACHE/fetched.json``; DatasetError naming the file when absent."""
    path = cache / FETCHED
    if not path.exists():
        raise DatasetError(f"{path}: no such file (run photos-fetch first)")
    fields = set(FetchedPhoto.__dataclass_fields__)
    photos = []
    for index, row in enumerate(_read_state(cache)["photos"]):
        if not isinstance(row, dict) or set(row) != fields:
            raise DatasetError(f"{path}: photos[{index}] does not have the expected fields")
        photos.append(FetchedPhoto(**row))
    if not photos:
        raise DatasetError(f"{path}: no photos recorded")
    return photos
