"""The model bundled with a source checkout (models/fakescope-mini/): searched last, and checked
against its manifest's SHA-256; a damaged one is an error (exit 2), never a silent fallback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli import paths
from fakescope_cli.app import app
from fakescope_cli.errors import ModelFileError, ModelNotFoundError
from fakescope_cli.models import locate_model
from tests.conftest import write_test_image

runner = CliRunner()


@pytest.fixture()
def bundled(tiny_gguf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake source checkout whose models/fakescope-mini/ holds the tiny converter's real output."""
    root = tmp_path / "checkout"
    folder = root / "models" / paths.BUNDLED_MODEL
    folder.mkdir(parents=True)
    text, mmproj = tiny_gguf
    for source in (text, mmproj, text.with_name("tiny.manifest.json")):
        shutil.copy(source, folder / source.name)
    monkeypatch.setenv("FAKESCOPE_SOURCE_ROOT", str(root))
    return folder


def test_child_processes_follow_the_source_root(bundled: Path, tmp_path: Path, monkeypatch) -> None:
    """The variable reaches `fakescope` started as its own process (tests rely on it to keep the
    checkout's real bundled model out of their way)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "fakescope_cli", "model", "info"]
    found = subprocess.run(command, capture_output=True, text=True, check=False)
    assert found.returncode == 0 and "found by: bundled model" in found.stdout
    monkeypatch.setenv("FAKESCOPE_SOURCE_ROOT", str(tmp_path / "elsewhere"))
    missing = subprocess.run(command, capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no model" in missing.stderr.lower()


def test_found_last_and_verified(bundled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = locate_model(environ={})
    assert (found.text, found.mmproj) == (bundled / "tiny.gguf", bundled / "tiny.mmproj.gguf")
    assert found.found_by == f"bundled model {bundled}"
    user = tmp_path / "user-models"  # anything the user installed wins
    user.mkdir()
    shutil.copy(bundled / "tiny.gguf", user / "mine.gguf")
    shutil.copy(bundled / "tiny.mmproj.gguf", user / "mine.mmproj.gguf")
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(user))
    assert locate_model(environ={}).text == user / "mine.gguf"


def test_scan_uses_it_and_says_its_caveat(bundled: Path, tmp_path: Path) -> None:
    image = write_test_image(tmp_path / "x.png")
    result = runner.invoke(app, ["scan", str(image)])
    assert result.exit_code in (0, 1), result.output
    assert "model caveat: random weights: a test model, not a detector" in result.stderr


@pytest.mark.parametrize("damage", ["flip", "truncate", "lfs"])
def test_mismatch_is_one_error_line_exit_2(bundled: Path, tmp_path: Path, damage: str) -> None:
    target = bundled / "tiny.mmproj.gguf"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[-1] ^= 0xFF  # same size, other content
    elif damage == "truncate":
        data = data[:-100]
    else:
        data = bytearray(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="tiny.mmproj.gguf"):
        locate_model(environ={})
    result = runner.invoke(app, ["scan", str(write_test_image(tmp_path / "x.png"))])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "tiny.mmproj.gguf" in lines[0]
    assert ("git lfs pull" if damage == "lfs" else "does not match tiny.manifest.json") in lines[0]
    assert result.stdout == ""


def test_without_manifest_the_pair_is_used(bundled: Path) -> None:
    (bundled / "tiny.manifest.json").unlink()
    assert locate_model(environ={}).text == bundled / "tiny.gguf"


def test_missing_file_or_empty_folder(bundled: Path) -> None:
    (bundled / "tiny.gguf").unlink()
    with pytest.raises(ModelFileError, match="missing, but the bundled model's tiny.manifest.json"):
        locate_model(environ={})
    for path in bundled.iterdir():
        path.unlink()
    with pytest.raises(ModelNotFoundError, match="no model found"):  # the plain message stays
        locate_model(environ={})
