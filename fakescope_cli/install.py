"""Install converted models into the models folder: import local files, pull over http(s), list.

A model arrives as ``NAME.manifest.json`` (written by ``python -m conversion export``) with the
two GGUFs it names. Every file is checked against the manifest's SHA-256 and GGUF header before
it is moved into place under its final name; until then it only exists as ``*.partial``.
Nothing here runs unless the user asks for it: FakeScope never downloads at run time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.download import Expected, Progress, check_url, download, open_url
from fakescope_cli.errors import ModelFileError
from fakescope_cli.gguf_header import read_header
from fakescope_cli.models import MMPROJ_SUFFIX, file_sha256

MANIFEST_SUFFIX = ".manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ManifestFile:
    kind: str  # "text" or "mmproj"
    file: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class Manifest:
    name: str
    architecture: str
    quantization: str
    files: tuple[ManifestFile, ...]
    raw: dict[str, object]


@dataclass(frozen=True)
class InstalledModel:
    name: str
    text: Path
    mmproj: Path | None
    quantization: str
    architecture: str
    bytes: int
    has_manifest: bool
    source: str = "-"
    caveat: str | None = None


def parse_manifest(data: bytes, origin: str) -> Manifest:
    """Validate a manifest (untrusted: names must be plain file names, digests 64 hex digits)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{origin}: not a FakeScope manifest ({exc})") from None
    if not isinstance(raw, dict) or not str(raw.get("format", "")).startswith("fakescope.manifest/"):
        raise ModelFileError(f"{origin}: not a FakeScope manifest (no 'format': 'fakescope.manifest/1')")
    files = raw.get("files")
    if not isinstance(files, dict) or set(files) != {"text", "mmproj"}:
        raise ModelFileError(f"{origin}: manifest must list a 'text' and an 'mmproj' file")
    entries = []
    for kind in ("text", "mmproj"):
        item = files[kind]
        name = item.get("file") if isinstance(item, dict) else None
        digest = str(item.get("sha256", "")).lower() if isinstance(item, dict) else ""
        if not isinstance(name, str) or not _SAFE_NAME.match(name) or not name.endswith(".gguf"):
            raise ModelFileError(f"{origin}: manifest names an unsafe or non-GGUF {kind} file {name!r}")
        if not _HEX64.match(digest):
            raise ModelFileError(f"{origin}: manifest has no valid SHA-256 for {name}")
        size = item.get("bytes")
        entries.append(ManifestFile(kind, name, digest, size if isinstance(size, int) else None))
    if entries[0].file == entries[1].file:
        raise ModelFileError(f"{origin}: manifest names the same file twice")
    name = entries[0].file[: -len(".gguf")]  # from the checked file name, not free text
    return Manifest(
        name, str(raw.get("architecture", "?")), str(raw.get("quantization", "?")), tuple(entries), raw
    )


def read_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at ``path``, reading no more than a manifest may hold."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{path}: too large for a manifest")
    return parse_manifest(data, str(path))


def _manifests_in(sources: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for source in sources:
        source = source.expanduser()
        if source.is_dir():
            manifests = sorted(source.glob("*" + MANIFEST_SUFFIX))
            if not manifests:
                raise ModelFileError(
                    f"{source}: no *{MANIFEST_SUFFIX} here (export writes one beside the GGUFs)"
                )
            found += manifests
        elif source.name.endswith(MANIFEST_SUFFIX):
            found.append(source)
        elif source.suffix == ".gguf":
            stem = source.name[: -len(MMPROJ_SUFFIX)] if source.name.endswith(MMPROJ_SUFFIX) else source.stem
            manifest = source.with_name(stem + MANIFEST_SUFFIX)
            if not manifest.is_file():
                raise ModelFileError(f"{source}: no {manifest.name} beside it; import needs the manifest")
            found.append(manifest)
        elif not source.exists():
            raise ModelFileError(f"{source}: not found")
        else:
            raise ModelFileError(f"{source}: neither a folder, a manifest nor a .gguf file")
    return list(dict.fromkeys(p.resolve() for p in found))


def verify_file(path: Path, expected: ManifestFile, digest: bool = True) -> None:
    """Whole GGUF of the right kind, and (``digest``) the manifest's SHA-256."""
    header = read_header(path)  # raises: not a GGUF / truncated
    is_proj = header.architecture == "clip"
    if is_proj != (expected.kind == "mmproj"):
        raise ModelFileError(
            f"{path}: expected the {expected.kind} model, found architecture {header.architecture!r}"
        )
    if not digest:
        return
    actual = file_sha256(path)
    if actual != expected.sha256:
        raise ModelFileError(
            f"{path}: SHA-256 {actual[:16]}... does not match the manifest ({expected.sha256[:16]}...); "
            "the file is corrupt or not the one the manifest describes"
        )


def _install(files: dict[Path, Path]) -> list[Path]:
    """Rename verified ``.partial`` files (values) into place (keys), all or nothing."""
    for final, partial in files.items():
        os.replace(partial, final)
    return list(files)


def import_model(sources: Iterable[Path], models_dir: Path) -> list[Path]:
    """Copy the model(s) the sources name into ``models_dir`` after checking each file."""
    installed: list[Path] = []
    models_dir.mkdir(parents=True, exist_ok=True)
    for manifest_path in _manifests_in(sources):
        manifest = read_manifest(manifest_path)
        staged: dict[Path, Path] = {}
        try:
            for entry in manifest.files:
                source = manifest_path.parent / entry.file
                verify_file(source, entry)
                final = models_dir / entry.file
                staged[final] = final.with_name(final.name + ".partial")
                shutil.copyfile(source, staged[final])
                verify_file(staged[final], entry)  # the copy, not just the original
            final_manifest = models_dir / (manifest.name + MANIFEST_SUFFIX)
            staged[final_manifest] = final_manifest.with_name(final_manifest.name + ".partial")
            shutil.copyfile(manifest_path, staged[final_manifest])
            installed += _install(staged)
        except OSError as exc:
            raise ModelFileError(f"cannot copy into {models_dir} ({exc.strerror or exc})") from None
        finally:
            for partial in staged.values():
                partial.unlink(missing_ok=True)
    return installed


def install_export(manifest_path: Path, models_dir: Path) -> list[Path]:
    """Move a freshly converted model (its manifest and the two GGUFs beside it, on the same disk)
    into ``models_dir``: every file checked and every target free first, then renamed. The files'
    SHA-256 are not computed again: the converter took them from these very files moments ago
    (reading 4.7 GB once more would add about 10 s to a 7B pull); headers and kinds are checked."""
    manifest = read_manifest(manifest_path)
    moves = [(manifest_path.parent / e.file, models_dir / e.file) for e in manifest.files]
    moves.append((manifest_path, models_dir / (manifest.name + MANIFEST_SUFFIX)))
    for entry, (source, _) in zip(manifest.files, moves, strict=False):
        verify_file(source, entry, digest=False)
    for _, final in moves:
        if final.exists():
            raise ModelFileError(f"{final}: already exists; remove that model first")
    placed: list[tuple[Path, Path]] = []
    try:
        for source, final in moves:
            os.replace(source, final)
            placed.append((source, final))
    except BaseException as exc:  # a full disk or a Ctrl-C between renames: put everything back
        for source, final in reversed(placed):
            with contextlib.suppress(OSError):
                os.replace(final, source)
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot move the model into {models_dir} ({exc.strerror or exc})") from None
        raise
    return [final for _, final in placed]


def remove_model(name: str, models_dir: Path) -> list[Path]:
    """Delete installed model ``name`` (its GGUFs and manifest) from ``models_dir``; only a name
    `model list` shows, never a projector or another file on its own."""
    installed = {m.name: m for m in list_models(models_dir)}
    model = installed.get(name)
    if model is None:
        names = ", ".join(installed) or "none"
        raise ModelFileError(f"{name}: no such model in {models_dir} (installed: {names})")
    files = [model.text, models_dir / f"{name}{MMPROJ_SUFFIX}", models_dir / f"{name}{MANIFEST_SUFFIX}"]
    present = [path for path in files if path.is_file()]
    try:
        for path in present:
            path.unlink()
    except OSError as exc:
        raise ModelFileError(f"{exc.filename}: cannot remove ({exc.strerror or exc})") from None
    return present


def pull(url: str, models_dir: Path, progress: Progress | None = None) -> list[Path]:
    """Download a model by its manifest URL (``.../NAME.manifest.json``): the manifest, then each
    file it names (relative to the manifest). Every file is fetched and checked under a
    ``.download`` name first; only when all are there are they renamed into place."""
    check_url(url)
    if not urllib.parse.urlsplit(url).path.endswith(MANIFEST_SUFFIX):
        raise ModelFileError(f"{url}: pull takes the URL of a {MANIFEST_SUFFIX} written by the converter")
    with open_url(url) as response:
        data = response.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{url}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    manifest = parse_manifest(data, url)
    try:
        return _pull_files(url, manifest, data, models_dir, progress)
    except OSError as exc:
        raise ModelFileError(
            f"{exc.filename or models_dir}: {exc.strerror or exc}; nothing was installed"
        ) from None


def _pull_files(
    url: str, manifest: Manifest, data: bytes, models_dir: Path, progress: Progress | None
) -> list[Path]:
    models_dir.mkdir(parents=True, exist_ok=True)
    staged: dict[Path, Path] = {}
    for entry in manifest.files:
        final = models_dir / entry.file
        expected = Expected(sha256=entry.sha256, size=entry.size)
        if final.is_file() and expected.matches(final):
            continue
        staging = models_dir / (entry.file + ".download")
        if not (staging.is_file() and expected.matches(staging)):
            source = urllib.parse.urljoin(url, urllib.parse.quote(entry.file))
            download(source, staging, expected, progress)
        try:
            verify_file(staging, entry, digest=False)  # its SHA-256 was checked just above
        except ModelFileError:
            staging.unlink(missing_ok=True)
            raise
        staged[final] = staging
    manifest_path = models_dir / (manifest.name + MANIFEST_SUFFIX)
    staged[manifest_path] = manifest_path.with_name(manifest_path.name + ".partial")
    staged[manifest_path].write_bytes(data)
    _install(staged)
    return [*(models_dir / e.file for e in manifest.files), manifest_path]


def _source_text(raw: dict[str, object]) -> str:
    source = raw.get("source")
    if not isinstance(source, dict):
        return "-"
    if isinstance(source.get("repo"), str):
        commit = str(source.get("commit") or source.get("revision") or "")[:12]
        return f"hf:{source['repo']}@{commit}" if commit else f"hf:{source['repo']}"
    if isinstance(source.get("folder"), str):
        return f"converted from {source['folder']}"
    return "-"


def _caveat(raw: dict[str, object], text: Path) -> str | None:
    from fakescope_cli.card import card_from_metadata

    card = raw.get("card")
    if isinstance(card, dict) and isinstance(card.get("caveat"), str):
        return " ".join(str(card["caveat"]).split()) or None
    try:
        found = card_from_metadata(read_header(text).metadata)
    except (ModelFileError, OSError):
        return None
    return found.caveat if found else None


def list_models(models_dir: Path) -> list[InstalledModel]:
    """Model pairs in ``models_dir`` (manifest data where one is present; no hashing)."""
    if not models_dir.is_dir():
        return []
    models = []
    for text in sorted(models_dir.glob("*.gguf")):
        if "mmproj" in text.name.lower():
            continue
        stem = text.name[: -len(".gguf")]
        mmproj = text.with_name(stem + MMPROJ_SUFFIX)
        manifest_path = text.with_name(stem + MANIFEST_SUFFIX)
        quant = arch = "?"
        raw: dict[str, object] = {}
        if manifest_path.is_file():
            try:
                manifest = read_manifest(manifest_path)
                quant, arch, raw = manifest.quantization, manifest.architecture, manifest.raw
            except ModelFileError:
                pass
        size = text.stat().st_size + (mmproj.stat().st_size if mmproj.is_file() else 0)
        models.append(
            InstalledModel(
                stem,
                text,
                mmproj if mmproj.is_file() else None,
                quant,
                arch,
                size,
                manifest_path.is_file(),
                _source_text(raw),
                _caveat(raw, text),
            )
        )
    return models
