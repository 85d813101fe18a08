"""Small file helpers for the training path."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fakescope_cli.errors import DatasetError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it: never a half-written file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DatasetError(f"{path}: cannot write ({exc.strerror or exc})") from None


def atomic_write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, written like ``atomic_write_bytes``."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _check_replaceable(target: Path, marker: str) -> None:
    if target.exists():
        if not target.is_dir():
            raise DatasetError(f"{target}: exists and is not a folder")
        if any(target.iterdir()) and not (target / marker).is_file():
            raise DatasetError(f"{target}: not empty and has no {marker}; refusing to replace it")


@contextmanager
def building_folder(target: Path, marker: str) -> Iterator[Path]:
    """Build ``target`` in a fresh folder beside it, renamed into place when the block succeeds.

    An older ``target`` is replaced only when it holds ``marker`` (our own earlier output) or is
    empty; on failure the partial folder is removed and ``target`` is left as it was.
    """
    _check_replaceable(target, marker)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as exc:
        raise DatasetError(f"{target}: cannot create a folder beside it ({exc.strerror or exc})") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        _check_replaceable(target, marker)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise DatasetError(f"{target}: cannot move the output into place ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
