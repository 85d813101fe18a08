"""`fakescope evidence`, and evidence inside `scan` and `explain`, through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.conftest import write_test_image
from tests.fakescope_cli.evidence.builders import (
    IPTC,
    TestSigner,
    camera_exif,
    jpeg_bytes,
    png_bomb,
    png_bytes,
)

runner = CliRunner()
A1111 = "cat\nSteps: 20, Sampler: Euler a, Seed: 31337, Model: dreamshaper_8"


@pytest.fixture()
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "generated.png").write_bytes(png_bytes(texts={"parameters": A1111}))
    (folder / "camera.jpg").write_bytes(jpeg_bytes(exif=camera_exif()))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return folder


def test_folder_json(case: Path) -> None:
    result = runner.invoke(app, ["evidence", str(case), "--json"])
    assert result.exit_code == 3, result.output  # broken.jpg could not be read; 3 wins over 1
    report = json.loads(result.stdout)
    assert report["model"] is None and report["decoding"] is None
    by_name = {Path(r["path"]).name: r for r in report["results"]}
    generated = by_name["generated.png"]
    assert generated["verdict"] == "ai-generated" and generated["decided_by"] == ["generator.declared"]
    assert generated["p_fake"] is None
    declared = [i for i in generated["evidence"]["items"] if i["id"] == "generator.declared"]
    assert declared[0]["value"]["seed"] == "31337"
    assert by_name["camera.jpg"]["verdict"] == "inconclusive"
    assert "no model score" in by_name["camera.jpg"]["reason"]
    assert by_name["broken.jpg"]["error"] and "broken.jpg" in result.stderr
    assert report["summary"] == {"ai-generated": 1, "inconclusive": 1, "error": 1}


def test_exit_codes(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg_bytes())
    generated = tmp_path / "gen.png"
    generated.write_bytes(png_bytes(texts={"parameters": A1111}))
    assert runner.invoke(app, ["evidence", str(plain)]).exit_code == 0
    assert runner.invoke(app, ["evidence", str(plain), str(generated)]).exit_code == 1
    assert runner.invoke(app, ["evidence", str(tmp_path / "missing.png")]).exit_code == 2  # a usage error


def test_piped_output_is_tab_separated_lines(case: Path) -> None:
    result = runner.invoke(app, ["evidence", str(case / "generated.png")])
    lines = result.stdout.splitlines()
    assert lines[0] == "path\tverdict\tid\tcategory\tpoints_to\tstrength\tfinding"
    assert all(len(line.split("\t")) == 7 for line in lines)
    assert any("\tgenerator.declared\tgenerator\tai-generated\tstrong\t" in line for line in lines)


def test_jsonl_streams_one_line_per_image(case: Path) -> None:
    result = runner.invoke(app, ["evidence", str(case), "--jsonl"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 3 and all(r["schema"] == "fakescope.result/3" for r in records)


def test_hostile_metadata_cannot_reach_the_terminal(tmp_path: Path) -> None:
    evil = tmp_path / "evil.png"
    evil.write_bytes(
        png_bytes(texts={"Software": "\x1b[2J\x1b[31m[link=http://x]Midjourney[/link]\r\nerror: forged"})
    )
    result = runner.invoke(app, ["evidence", str(evil)])
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "[link=http://x]Midjourney" in result.stdout  # shown as text, not interpreted
    assert not [line for line in result.stdout.splitlines() if line.startswith("error: forged")]


def test_terminal_table_escapes_markup(tmp_path: Path, monkeypatch) -> None:
    from fakescope_cli.commands import _common

    monkeypatch.setattr(_common.stdout, "_force_terminal", True)
    monkeypatch.setattr(_common.stdout, "_color_system", None)
    evil = tmp_path / "[red]evil.png"
    evil.write_bytes(png_bytes(texts={"Software": "[bold]Midjourney[/bold] \x1b[5m"}))
    result = runner.invoke(app, ["evidence", str(evil)])
    assert "[red]evil.png" in result.stdout and "[bold]Midjourney[/bold]" in result.stdout
    assert "\x1b" not in result.stdout
    assert "ai-generated" in result.stdout and "generator metadata" in result.stdout


def test_bomb_is_reported_and_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(png_bomb(texts={"parameters": A1111}))
    (tmp_path / "ok.jpg").write_bytes(jpeg_bytes())
    result = runner.invoke(app, ["evidence", str(tmp_path), "--json"])
    assert result.exit_code == 3
    by_name = {Path(r["path"]).name: r for r in json.loads(result.stdout)["results"]}
    assert "decompression bomb" in by_name["bomb.png"]["error"]
    assert any(i["id"] == "generator.declared" for i in by_name["bomb.png"]["evidence"]["items"])
    assert by_name["ok.jpg"]["error"] is None
    assert "Traceback" not in result.output


def test_figures_are_written(tmp_path: Path) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg_bytes())
    out = tmp_path / "maps"
    assert runner.invoke(app, ["evidence", str(image), "--figures", str(out)]).exit_code == 0
    names = sorted(p.name.split(".", 2)[-1] for p in out.iterdir())
    assert names == ["ela.png", "spectrum.png"]


def test_c2pa_trust_option(tmp_path: Path) -> None:
    signer = TestSigner()
    signed = tmp_path / "signed.jpg"
    actions = [{"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]
    signed.write_bytes(signer.sign(jpeg_bytes(), "image/jpeg", actions))
    roots = tmp_path / "roots.pem"
    roots.write_text(signer.root_pem)
    result = runner.invoke(app, ["evidence", str(signed), "--json", "--c2pa-trust", str(roots)])
    assert result.exit_code == 1
    items = json.loads(result.stdout)["results"][0]["evidence"]["items"]
    assert [i["value"]["state"] for i in items if i["id"] == "c2pa.manifest"] == ["Trusted"]
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    bad = runner.invoke(app, ["evidence", str(signed), "--c2pa-trust", str(not_pem)])
    assert bad.exit_code == 2 and "x.pem" in bad.stderr


def test_scan_evidence_only_needs_no_model(case: Path) -> None:
    result = runner.invoke(app, ["scan", str(case / "generated.png"), "--evidence-only", "--json"])
    assert result.exit_code == 1
    record = json.loads(result.stdout)["results"][0]
    assert record["verdict"] == "ai-generated" and record["p_fake"] is None


def test_scan_with_model_fuses_evidence(case: Path, tiny_gguf) -> None:
    model = ["--model", str(tiny_gguf[0]), "--mmproj", str(tiny_gguf[1])]
    result = runner.invoke(app, ["scan", str(case / "generated.png"), "--jsonl", *model])
    record = json.loads(result.stdout)
    assert 0.0 <= record["p_fake"] <= 1.0 and record["model_verdict"] in ("likely-ai", "likely-real")
    assert record["verdict"] == "ai-generated"  # the file's own declaration decides
    assert any(i["id"] == "generator.declared" for i in record["evidence"]["items"])
    plain = runner.invoke(app, ["scan", str(case / "camera.jpg"), "--jsonl", "--no-evidence", *model])
    record = json.loads(plain.stdout)
    assert "evidence" not in record and record["decided_by"] == ["model"]


def test_explain_shows_evidence(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    image.write_bytes(png_bytes(texts={"parameters": A1111}))
    result = runner.invoke(app, ["explain", str(image), "--model", str(tiny_gguf[0]), "--max-tokens", "4"])
    assert result.exit_code == 1, result.output
    assert "ai-generated" in result.stdout and "generator metadata" in result.stdout
    assert "Model rationale" in result.stdout
    # piped, it is one readable text: no tab-separated table mixed into the prose
    assert "\t" not in result.stdout and "  - generator: generator metadata" in result.stdout
    assert "What to check next" in result.stdout and "Quote the declaration" in result.stdout
