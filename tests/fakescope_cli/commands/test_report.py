"""`fakescope report` and `scan --report-dir` through Typer's runner, with the real tiny model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.conftest import write_test_image
from tests.fakescope_cli.evidence.builders import jpeg_bytes, png_bytes
from tests.schemas import validate

runner = CliRunner()


def test_report_with_model_rationale_and_questions(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    out = tmp_path / "reports"
    args = [
        "report",
        str(image),
        "--out",
        str(out),
        "-f",
        "json",
        "-f",
        "html",
        "-f",
        "md",
        "--model",
        str(tiny_gguf[0]),
        "--ask",
        "Are the shadows consistent?",
        "--max-tokens",
        "4",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    written = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(p.suffix for p in written) == [".html", ".json", ".md"] and all(
        p.is_file() for p in written
    )
    document = json.loads(next(p for p in written if p.suffix == ".json").read_text())
    validate(document, "report")
    assert 0 <= document["verdict"]["p_fake"] <= 1 and document["rationale"] is not None
    assert document["questions"][0]["question"] == "Are the shadows consistent?"
    model = document["custody"]["model"]
    assert model["text_file_type"] == "F32" and len(model["text_sha256"]) == 64
    html = next(p for p in written if p.suffix == ".html").read_text()
    assert "Model rationale" in html and "Are the shadows consistent?" in html
    assert not list(out.glob("*.partial"))


def test_report_evidence_only_and_bad_input(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes(texts={"parameters": "x\nSteps: 5, Seed: 9"}))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff nope")
    result = runner.invoke(
        app, ["report", str(good), str(bad), "--out", str(tmp_path / "r"), "--evidence-only"]
    )
    assert result.exit_code == 3
    assert "bad.jpg" in result.stderr and "Traceback" not in result.output
    assert len(result.stdout.splitlines()) == 2  # a report for each, the bad one says why


def test_report_usage_errors(tmp_path: Path) -> None:
    image = write_test_image(tmp_path / "x.png")
    bad_format = runner.invoke(
        app, ["report", str(image), "--out", str(tmp_path), "-f", "pdf", "--evidence-only"]
    )
    assert bad_format.exit_code == 2 and "pdf" in bad_format.stderr
    no_model = runner.invoke(app, ["report", str(image), "--out", str(tmp_path)])
    assert no_model.exit_code == 2 and "no model found" in no_model.stderr


def test_scan_report_dir_writes_index_and_pages(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes())
    (folder / "b.png").write_bytes(png_bytes(texts={"parameters": "x\nSteps: 5, Seed: 9"}))
    (folder / "c.jpg").write_bytes(b"")
    out = tmp_path / "site"
    result = runner.invoke(
        app, ["scan", str(folder), "--evidence-only", "--report-dir", str(out), "--no-cache"]
    )
    assert result.exit_code == 3
    pages = sorted(p.name for p in out.iterdir())
    assert "index.html" in pages and len(pages) == 4  # index + a report per image (c.jpg's says why)
    index = (out / "index.html").read_text()
    for page in pages:
        if page != "index.html":
            assert f'href="{page}"' in index
    assert "c.jpg" in index and "error" in index
