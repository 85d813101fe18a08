"""`fakescope scan` through Typer's runner, against the real tiny model."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.results import RESULT_SCHEMA
from tests.conftest import write_test_image

runner = CliRunner()


@pytest.fixture()
def model_args(tiny_gguf) -> list[str]:
    return ["--model", str(tiny_gguf[0]), "--mmproj", str(tiny_gguf[1])]


@pytest.fixture()
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    write_test_image(folder / "one.png", seed=1)
    write_test_image(folder / "two.jpg", seed=2, fmt="JPEG")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image, skipped")
    (folder / "fake-png.png").write_bytes(b"this is text")
    return folder


def test_good_and_bad_files(mixed_folder: Path, model_args: list[str]) -> None:
    result = runner.invoke(app, ["scan", str(mixed_folder), "--jsonl", *model_args])
    assert result.exit_code == 3, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(line["path"]).name: line for line in lines}
    assert set(by_name) == {"one.png", "two.jpg", "zero.jpg", "fake-png.png"}
    for name in ("one.png", "two.jpg"):
        assert by_name[name]["error"] is None
        assert 0.0 <= by_name[name]["p_fake"] <= 1.0
        assert by_name[name]["verdict"] in ("likely-ai", "likely-real")
    for name in ("zero.jpg", "fake-png.png"):
        assert by_name[name]["p_fake"] is None
        assert name in by_name[name]["error"]
    # One line per bad file on stderr, naming it, no traceback.
    assert "zero.jpg" in result.stderr and "fake-png.png" in result.stderr
    assert "Traceback" not in result.stderr


def test_jsonl_shape(mixed_folder: Path, model_args: list[str], tiny_gguf) -> None:
    from fakescope_cli.models import file_sha256

    result = runner.invoke(app, ["scan", str(mixed_folder / "one.png"), "--jsonl", *model_args])
    assert result.exit_code in (0, 1)
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["schema"] == RESULT_SCHEMA
    assert record["model_sha256"] == file_sha256(tiny_gguf[0])
    assert record["mmproj_sha256"] == file_sha256(tiny_gguf[1])
    assert {"path", "verdict", "p_fake", "error", "sha256", "width", "height", "format"} <= set(record)


@pytest.mark.parametrize(("threshold", "code", "verdict"), [(0.0, 1, "likely-ai"), (1.0, 0, "likely-real")])
def test_exit_code_follows_threshold(tmp_path: Path, model_args, threshold, code, verdict) -> None:
    image = write_test_image(tmp_path / "x.png")
    result = runner.invoke(app, ["scan", str(image), "--json", "--threshold", str(threshold), *model_args])
    assert result.exit_code == code
    report = json.loads(result.stdout)
    assert report["results"][0]["verdict"] == verdict
    assert report["decoding"]["temperature"] == 0.0
    assert report["model"]["text_sha256"]
    assert report["summary"] == {verdict: 1}


def test_table_and_csv(tmp_path: Path, model_args, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    image = write_test_image(Path("=cmd.png"))
    table = runner.invoke(app, ["scan", str(image), *model_args])
    header, row = table.stdout.splitlines()  # not a terminal: tab-separated lines
    assert header == "path\tverdict\tp_fake\treason"
    assert row.startswith(str(image) + "\t")
    csv = runner.invoke(app, ["scan", str(image), "--csv", *model_args])
    header, row = csv.stdout.splitlines()
    assert header.startswith("path,verdict,p_fake")
    assert row.startswith("'=cmd.png,")  # a leading '=' is neutralised for spreadsheets


def test_no_model_found_says_so(tmp_path: Path) -> None:
    image = write_test_image(tmp_path / "x.png")
    result = runner.invoke(app, ["scan", str(image)])
    assert result.exit_code == 2
    assert "no model found" in result.stderr
    assert result.stdout == ""


def test_broken_model_file_is_one_clear_line(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(tiny_gguf[0].read_bytes()[:5000])
    result = runner.invoke(
        app, ["scan", str(image), "--model", str(truncated), "--mmproj", str(tiny_gguf[1])]
    )
    assert result.exit_code == 2
    assert "truncated" in result.stderr and "cut.gguf" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_from_environment_and_folder(tmp_path: Path, tiny_gguf, monkeypatch) -> None:
    image = write_test_image(tmp_path / "x.png")
    monkeypatch.setenv("FAKESCOPE_MODEL", str(tiny_gguf[0]))
    assert runner.invoke(app, ["scan", str(image), "--json"]).exit_code in (0, 1)
    monkeypatch.delenv("FAKESCOPE_MODEL")
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(tiny_gguf[0].parent))
    result = runner.invoke(app, ["scan", str(image), "--json"])
    assert result.exit_code in (0, 1), result.output


def test_hostile_file_names_are_inert(tmp_path: Path, model_args) -> None:
    image = write_test_image(tmp_path / "[bold red]x\x1b[31m.png")
    result = runner.invoke(app, ["scan", str(image), *model_args])
    assert "\x1b" not in result.stdout
    assert "\\x1b[31m.png" in result.stdout
    assert "[bold red]x" in result.stdout


def test_file_names_cannot_forge_lines_or_formulas(tmp_path: Path, model_args, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    forged = Path("x\nerror: forged.png")
    forged.write_bytes(b"not an image")
    formula = Path("=HYPERLINK(1).png")
    formula.write_bytes(b"not an image")
    result = runner.invoke(app, ["scan", str(forged), str(formula), *model_args])
    assert result.exit_code == 3
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 2
    assert len(result.stdout.splitlines()) == 3  # header + one line per file
    csv = runner.invoke(app, ["scan", str(formula), "--csv", *model_args])
    row = csv.stdout.splitlines()[1]
    assert "=HYPERLINK" not in row.replace("'=HYPERLINK", "")


def test_image_the_model_cannot_take_is_named(tmp_path: Path, model_args) -> None:
    from PIL import Image

    sliver = tmp_path / "sliver.png"
    Image.new("RGB", (200, 1), (9, 9, 9)).save(sliver)
    good = write_test_image(tmp_path / "good.png")
    result = runner.invoke(app, ["scan", str(sliver), str(good), "--jsonl", *model_args])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and lines[1]["error"] is None
    # libmtmd 0.3.36 cannot tile a 200x1 image: that one image fails, named; the scan goes on.
    assert result.exit_code == 3
    assert "sliver.png" in lines[0]["error"] and "sliver.png" in result.stderr
