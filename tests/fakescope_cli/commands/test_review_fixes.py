"""Edge cases found in review: a damaged cache, name collisions and awkward file names in reports,
control characters in CSV, reports for cached results, and workers that cannot load the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.fakescope_cli.evidence.builders import jpeg_bytes, photo

runner = CliRunner()


def _image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(photo((96, 80), seed=seed)))
    return path


def test_damaged_cache_is_skipped_with_a_warning_and_cleared(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "results.sqlite").write_text("garbage, not a database")
    monkeypatch.setenv("FAKESCOPE_CACHE_DIR", str(cache))
    image = _image(tmp_path / "a.jpg")
    result = runner.invoke(app, ["scan", str(image), "--evidence-only", "--jsonl"])
    assert result.exit_code == 0 and json.loads(result.stdout)["verdict"] == "inconclusive"
    assert "damaged" in result.stderr and "without the cache" in result.stderr
    assert runner.invoke(app, ["cache", "clear"]).exit_code == 0
    assert not (cache / "results.sqlite").exists()
    again = runner.invoke(app, ["scan", str(image), "--evidence-only"])
    assert again.exit_code == 0 and again.stderr == ""


def test_same_image_at_two_paths_gets_two_reports(tmp_path: Path) -> None:
    first, second = _image(tmp_path / "x" / "a.jpg"), tmp_path / "y" / "a.jpg"
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())
    out = tmp_path / "site"
    runner.invoke(
        app, ["scan", str(first), str(second), "--evidence-only", "--report-dir", str(out), "--no-cache"]
    )
    pages = sorted(p.name for p in out.glob("a.*.html"))
    assert len(pages) == 2
    assert {str(first), str(second)} == {
        path for page in pages for path in (str(first), str(second)) if path in (out / page).read_text()
    }


def test_reports_for_cached_results_keep_their_maps(tmp_path: Path) -> None:
    image = _image(tmp_path / "in" / "a.jpg")
    runner.invoke(app, ["scan", str(image), "--evidence-only"])  # fills the cache, no maps stored
    out = tmp_path / "site"
    result = runner.invoke(app, ["scan", str(image), "--evidence-only", "--report-dir", str(out), "--jsonl"])
    assert json.loads(result.stdout)["cached"] is True
    (page,) = out.glob("a.*.html")
    assert "Signal maps" in page.read_text()


def test_a_file_changed_after_analysis_is_not_mixed_into_its_report(tmp_path: Path) -> None:
    from fakescope_cli.discovery import InputFile
    from fakescope_cli.report.build import complete_report
    from fakescope_cli.report.model import RunContext
    from fakescope_cli.scan import ScanOptions, analyse_file

    image = _image(tmp_path / "a.jpg")
    result = analyse_file(None, InputFile(image), ScanOptions())
    _image(image, seed=5)  # replaced on disk before the report is written
    report = complete_report(result, RunContext.now(None, None, 0.5, 0.1))
    assert report.thumbnail_jpeg is None and "changed after it was analysed" in report.caveats()[0]


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_non_utf8_and_very_long_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9\x9b[31m.jpg")
    _image(Path(odd))
    _image(folder / ("漢" * 82 + ".jpg"), seed=1)
    out = tmp_path / "site"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "FAKESCOPE_CACHE_DIR": str(tmp_path / "c")}
    command = [
        sys.executable,
        "-m",
        "fakescope_cli",
        "scan",
        str(folder),
        "--evidence-only",
        "--report-dir",
        str(out),
    ]
    for extra in ([], ["--json"], ["--csv"]):
        done = subprocess.run([*command, *extra], capture_output=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert b"\x9b" not in done.stdout and b"\x1b" not in done.stdout
        assert b"Traceback" not in done.stderr
    assert len(list(out.glob("*.html"))) == 3  # two reports and the index
    assert all(len(p.name.encode()) < 200 for p in out.iterdir())


def test_csv_cells_show_control_characters_as_escapes(tmp_path: Path) -> None:
    image = _image(tmp_path / "x\x1b]0;pwned\x07\x1b[31m.jpg")
    result = runner.invoke(app, ["scan", str(image), "--evidence-only", "--csv", "--no-cache"])
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\\x1b" in result.stdout


def test_workers_that_cannot_load_the_model_say_so_once(tmp_path: Path, tiny_gguf) -> None:
    from fakescope_cli.discovery import InputFile
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.errors import ModelFileError
    from fakescope_cli.models import ModelFiles
    from fakescope_cli.pipeline import ModelSpec, ScanRun
    from fakescope_cli.scan import ScanOptions

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    spec = ModelSpec(ModelFiles(broken, tiny_gguf[1], "test"), LoadOptions(), "x")
    images = [InputFile(_image(tmp_path / f"{i}.jpg", seed=i)) for i in range(3)]
    with (
        pytest.raises(ModelFileError, match="worker could not load the model"),
        ScanRun(ScanOptions(evidence=None), spec, None, 2) as run,
    ):
        list(run.results(images))
