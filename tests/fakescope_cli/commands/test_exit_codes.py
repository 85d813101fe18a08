"""Exit codes a shell script can trust: a typo in a path or a folder without images is a usage
error (2), never "nothing flagged" (0) or "some inputs unreadable" (3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.fakescope_cli.evidence.builders import jpeg_bytes

runner = CliRunner()
COMMANDS = [["scan", "--evidence-only", "--no-cache"], ["evidence"], ["report", "--evidence-only"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_missing_path_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes())
    extra = ["--out", str(tmp_path / "out")] if command[0] == "report" else []
    result = runner.invoke(app, [*command, *extra, str(good), str(tmp_path / "typo.jpg")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {tmp_path / 'typo.jpg'}: no such file or folder"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_folder_without_images_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no pictures here")
    extra = ["--out", str(tmp_path / "out")] if command[0] == "report" else []
    result = runner.invoke(app, [*command, *extra, str(folder)])
    assert result.exit_code == 2, result.output
    assert "no images found in" in result.stderr and str(folder) in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["scan", "--threshold", "2", "x.jpg"], "Invalid value for '--threshold'"),
        (["scan"], "Missing argument 'paths'"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_through_the_real_entry_point(args: list[str], said: str) -> None:
    """Click's six-line box became one `error:` line, exit 2 (`python -m fakescope_cli`, as a
    user's shell runs it: CliRunner bypasses the entry point)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fakescope_cli", *args], capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0]


def test_report_writes_a_page_for_a_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes())
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(good), str(loop), "--out", str(out), "--evidence-only"])
    assert result.exit_code == 3, result.output
    pages = sorted(p.name for p in out.glob("*.html"))
    assert len(pages) == 2 and any(p.startswith("loop") for p in pages)
    assert "loop.jpg" in result.stderr


def test_error_rows_say_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    result = runner.invoke(app, ["scan", str(broken), "--evidence-only", "--no-cache"])
    assert result.exit_code == 3
    (row,) = result.stdout.splitlines()[1:]  # piped: TSV, header first
    path, verdict, p_fake, reason = row.split("\t")
    assert (path, verdict, p_fake) == (str(broken), "error", "-")
    assert reason and "broken.jpg" not in reason and ("damaged" in reason or "truncated" in reason)
