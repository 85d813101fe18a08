"""A cache that cannot be created, or only read, never stops a command (the README's promise), and
looking at the cache does not create one."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.cache import ResultCache
from tests.fakescope_cli.evidence.builders import jpeg_bytes, photo

runner = CliRunner()


def _image(path: Path) -> Path:
    path.write_bytes(jpeg_bytes(photo((96, 80))))
    return path


def test_a_cache_folder_that_cannot_be_created_leaves_the_scan_running(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("FAKESCOPE_CACHE_DIR", str(blocker / "cache"))
    image = _image(tmp_path / "a.jpg")
    result = runner.invoke(app, ["scan", str(image), "--evidence-only", "--jsonl"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(image)
    assert "cannot create the results cache" in result.stderr and "without the cache" in result.stderr
    assert "cache clear" not in result.stderr  # clearing would not help, and would delete results
    assert "Traceback" not in result.output and "unexpected failure" not in result.stderr


def test_cache_info_on_a_missing_cache_creates_nothing(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FAKESCOPE_CACHE_DIR", str(cache))
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0 and "no cache yet" in result.stdout
    assert not cache.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file; read-only needs another user")
def test_a_read_only_cache_is_read_and_not_written(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    with ResultCache(path) as cache:
        cache.put("k", "f" * 64, "m", {"verdict": "x"})
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with ResultCache(path) as cache:
            assert cache.read_only and cache.get("k") == {"verdict": "x"}
            cache.put("k2", "f" * 64, "m", {})  # silently not stored
    finally:
        tmp_path.chmod(0o755)
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
