"""Reports are written under a temporary name and renamed: a crash never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakescope_cli.report.atomic import atomic_write


def test_complete_write(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    atomic_write(target, b"<html>")
    assert target.read_bytes() == b"<html>" and [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_failure_midway_leaves_the_old_file_and_no_partial(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "r.html"
    target.write_bytes(b"old report")

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"new report that never completes")
    assert target.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
