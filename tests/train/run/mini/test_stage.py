"""Staging large files in parts: split, join, and the damaged or missing part named in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from train.cli import main as train_main
from train.run.mini.stage import MANIFEST

REPO = Path(__file__).resolve().parents[4]
PART_MB = "0.001"  # 1048 bytes


@pytest.fixture()
def sources(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "src"
    folder.mkdir()
    files = {"model.gguf": os.urandom(5000), "exact.bin": os.urandom(2 * 1048), "empty.txt": b""}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def _split(sources: list[Path], staged: Path) -> None:
    assert train_main(["stage-split", *map(str, sources), "--out", str(staged), "--part-mb", PART_MB]) == 0


def test_split_and_join_round_trip(sources: list[Path], tmp_path: Path, capsys) -> None:
    staged = tmp_path / "staged"
    _split(sources, staged)
    manifest = json.loads((staged / MANIFEST).read_text())
    assert [len(entry["parts"]) for entry in manifest["files"]] == [5, 2, 1]
    assert all(part["bytes"] <= 1048 for entry in manifest["files"] for part in entry["parts"])
    assert train_main(["stage-join", str(staged), "--out", str(tmp_path / "joined")]) == 0
    for source in sources:
        assert (tmp_path / "joined" / source.name).read_bytes() == source.read_bytes()
    assert "joined" in capsys.readouterr().out
    assert not list((tmp_path / "joined").glob("*.partial"))


def test_join_needs_only_the_standard_library(sources: list[Path], tmp_path: Path) -> None:
    """``python -S`` (no site-packages) runs the module, as on the bare GPU machine."""
    staged, joined = tmp_path / "staged", tmp_path / "joined"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    for args in (
        ["split", *map(str, sources), "--out", str(staged), "--part-mb", PART_MB],
        ["join", str(staged), "--out", str(joined)],
    ):
        run = subprocess.run(
            [sys.executable, "-S", "-m", "train.run.mini.stage", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
    assert (joined / "model.gguf").read_bytes() == sources[0].read_bytes()


def _damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda path: path.unlink(), "missing part of model.gguf"),
        (_damage_flip, "corrupt part of model.gguf"),
        (lambda path: path.write_bytes(path.read_bytes()[:-1]), "incomplete copy"),
    ],
)
def test_damaged_part_is_named(sources: list[Path], tmp_path: Path, capsys, damage, needle: str) -> None:
    staged, joined = tmp_path / "staged", tmp_path / "joined"
    _split(sources, staged)
    damage(staged / "model.gguf.part003")
    assert train_main(["stage-join", str(staged), "--out", str(joined)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.gguf.part003" in err and needle in err, err
    assert not (joined / "model.gguf").exists() and not list(joined.glob("*.partial"))


def test_untrusted_manifest_names_are_refused(sources: list[Path], tmp_path: Path, capsys) -> None:
    staged = tmp_path / "staged"
    _split(sources[:1], staged)
    manifest = json.loads((staged / MANIFEST).read_text())
    manifest["files"][0]["name"] = "../outside.gguf"
    (staged / MANIFEST).write_text(json.dumps(manifest))
    assert train_main(["stage-join", str(staged), "--out", str(tmp_path / "joined")]) == 2
    assert "not a plain file name" in capsys.readouterr().err
    assert not (tmp_path / "outside.gguf").exists()


def test_missing_manifest_and_input(tmp_path: Path, capsys) -> None:
    assert train_main(["stage-join", str(tmp_path), "--out", str(tmp_path / "joined")]) == 2
    assert MANIFEST in capsys.readouterr().err
    assert train_main(["stage-split", str(tmp_path / "absent.gguf"), "--out", str(tmp_path / "s")]) == 2
    assert "absent.gguf: no such file" in capsys.readouterr().err


def test_the_device_script_parses() -> None:
    """``bash -n``: a syntax error in train/run/mini/device.sh would cost a device call to find."""
    import shutil

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    script = Path(__file__).resolve().parents[4] / "train" / "run" / "mini" / "device.sh"
    done = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
