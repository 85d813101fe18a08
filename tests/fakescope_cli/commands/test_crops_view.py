"""The crops view through the CLI: scan (JSON, cache, --map), report heat maps, explain/ask --region."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.conftest import write_textured_image
from tests.schemas import validate

runner = CliRunner()


def _model(crops_gguf) -> list[str]:
    return ["--model", str(crops_gguf[0]), "--mmproj", str(crops_gguf[1])]


def test_scan_json_carries_the_crops_and_the_map(tmp_path: Path, crops_gguf) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_textured_image(folder / "big.png", (200, 150), seed=21)
    write_textured_image(folder / "small.png", (40, 30), seed=22)
    args = ["scan", str(folder), "--json", "--map", "--no-evidence", *_model(crops_gguf)]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    document = json.loads(result.stdout)
    validate(document, "scan")
    assert document["model"]["view"] == "crops" and document["model"]["crop_size"] == 64
    by_name = {Path(r["path"]).name: r for r in document["results"]}
    big, small = by_name["big.png"], by_name["small.png"]
    assert big["view"]["mode"] == "crops" and len(big["view"]["crops"]) == 3
    assert not big["view"]["undersized"] and small["view"]["undersized"]
    assert (big["map"]["cols"], big["map"]["rows"]) == (4, 3) and len(big["map"]["cells"]) == 12
    assert all(0 <= c["p_fake"] <= 1 for c in big["map"]["cells"])


def test_cached_crops_and_map_come_back_the_same(tmp_path: Path, crops_gguf, monkeypatch) -> None:
    monkeypatch.setenv("FAKESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    image = write_textured_image(tmp_path / "c.png", (150, 100), seed=23)
    args = ["scan", str(image), "--jsonl", "--map", "--no-evidence", *_model(crops_gguf)]
    first = json.loads(runner.invoke(app, args).stdout)
    second = json.loads(runner.invoke(app, args).stdout)
    assert second.get("cached") is True and "cached" not in first
    assert first["view"] == second["view"] and first["map"] == second["map"]
    without_map = json.loads(runner.invoke(app, args[:3] + args[4:]).stdout)
    assert "map" not in without_map and "cached" not in without_map  # a different stored result


def test_report_shows_where_the_model_looked(tmp_path: Path, crops_gguf) -> None:
    image = write_textured_image(tmp_path / "r.png", (200, 150), seed=24)
    out = tmp_path / "reports"
    args = ["report", str(image), "--out", str(out), "-f", "html", "-f", "md", "-f", "json", "--map"]
    args += ["--max-tokens", "4", "--region", "10,20", *_model(crops_gguf)]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    written = {p.suffix: p for p in map(Path, result.stdout.splitlines())}
    document = json.loads(written[".json"].read_text())
    validate(document, "report")
    assert document["region"] == {"x": 10, "y": 20, "w": 64, "h": 64}
    assert len(document["view"]["crops"]) == 3 and len(document["map"]["cells"]) == 12
    html = written[".html"].read_text()
    assert "Where the model looked" in html and "Heat map of p(fake)" in html
    assert html.count('src="data:image/png') >= 4  # heat map, crops, ELA, spectrum
    markdown = written[".md"].read_text()
    assert "## Where the model looked" in markdown and "4×3 grid" in markdown
    assert "crop at x=10, y=20" in markdown


def test_explain_and_ask_say_which_region(tmp_path: Path, crops_gguf) -> None:
    image = write_textured_image(tmp_path / "e.png", (200, 150), seed=25)
    result = runner.invoke(
        app, ["explain", str(image), "--json", "--max-tokens", "4", "--region", "100,50", *_model(crops_gguf)]
    )
    assert result.exit_code in (0, 1), result.output
    document = json.loads(result.stdout)
    assert document["result"]["region"] == {"x": 100, "y": 50, "w": 64, "h": 64}
    validate(document["result"], "result")
    asked = runner.invoke(
        app, ["ask", str(image), "What is it?", "--json", "--max-tokens", "3", *_model(crops_gguf)]
    )
    assert asked.exit_code == 0, asked.output
    region = json.loads(asked.stdout)["region"]
    assert region["w"] == 64 and region["h"] == 64
    bad = runner.invoke(app, ["explain", str(image), "--region", "left", *_model(crops_gguf)])
    assert bad.exit_code == 2 and "--region" in bad.output and "Traceback" not in bad.output


def test_map_with_a_whole_image_model_says_so(tmp_path: Path, tiny_gguf) -> None:
    image = write_textured_image(tmp_path / "w.png", (100, 80), seed=26)
    result = runner.invoke(
        app, ["scan", str(image), "--jsonl", "--map", "--no-evidence", "--model", str(tiny_gguf[0])]
    )
    assert result.exit_code in (0, 1), result.output
    assert "judges whole images" in result.stderr
    record = json.loads(result.stdout)
    assert record["view"] == {"mode": "whole"} and "map" not in record
