"""Write files so that a crash never leaves a half-written one: temporary name, fsync, rename."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    tag = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    partial = path.with_name(f".{tag}.{os.getpid()}.partial")  # short: long names stay under 255 bytes
    try:
        with partial.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
