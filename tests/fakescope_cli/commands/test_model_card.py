"""The model card's caveat in every output made with the model, and its limits in `model info`:
shown once, inert however hostile the text, and absent (nothing invented) without a card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.card import CARD_FILE, TEST_MODEL_CAVEAT, ModelCard
from tests.conftest import write_test_image
from tests.schemas import validate

runner = CliRunner()

HOSTILE = ModelCard(
    caveat="\x1b[31mRED\x1b[0m [bold]markup[/] <script>alert(1)</script> see http://evil.example/x\nline two",
    limits="Never saw Midjourney.\n\x1b]8;;http://x\x07click\x1b]8;;\x07 <img src=x onerror=alert(1)>",
)
CAVEAT_SHOWN = (  # on a terminal or in a report: folded onto one line, control bytes as escapes
    "\\x1b[31mRED\\x1b[0m [bold]markup[/] <script>alert(1)</script> see http://evil.example/x line two"
)
CAVEAT_EXACT = " ".join(HOSTILE.caveat.split())  # in JSON: folded, otherwise exact (JSON escapes it)


@pytest.fixture(scope="module")
def hostile_args(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from conversion.export import export_checkpoint

    result = export_checkpoint(tiny_checkpoint, tmp_path_factory.mktemp("hostile"), name="h", card=HOSTILE)
    return ["--model", str(result.text), "--mmproj", str(result.mmproj)]


def _info(model_args: list[str], *extra: str) -> list[str]:
    return ["model", "info", model_args[1], "--mmproj", model_args[3], *extra]


@pytest.fixture(scope="module")
def cardless_args(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from conversion.export import export_checkpoint

    checkpoint = shutil.copytree(tiny_checkpoint, tmp_path_factory.mktemp("plain") / "ckpt")
    (checkpoint / CARD_FILE).unlink()
    result = export_checkpoint(checkpoint, tmp_path_factory.mktemp("plain-gguf"), name="p")
    return ["--model", str(result.text), "--mmproj", str(result.mmproj)]


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    return write_test_image(tmp_path / "x.png")


def _inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text


def test_model_info_prints_limits_and_caveat(hostile_args: list[str], cardless_args: list[str]) -> None:
    shown = runner.invoke(app, _info(hostile_args))
    assert shown.exit_code == 0, shown.output
    _inert(shown.stdout)
    assert f"caveat: {CAVEAT_SHOWN}\n" in shown.stdout  # one line, markup printed as text
    assert "limits: Never saw Midjourney.\n\\x1b]8;;http://x\\x07click" in shown.stdout
    as_json = runner.invoke(app, _info(hostile_args, "--json")).stdout
    _inert(as_json)
    body = json.loads(as_json)
    assert body["card"] == {"caveat": CAVEAT_EXACT, "limits": HOSTILE.limits}
    plain = runner.invoke(app, _info(cardless_args))
    assert plain.exit_code == 0 and "caveat" not in plain.stdout and "model card" not in plain.stdout
    assert json.loads(runner.invoke(app, _info(cardless_args, "--json")).stdout)["card"] is None


def test_scan_table_caveat_once_on_stderr(image: Path, hostile_args: list[str], tiny_gguf) -> None:
    result = runner.invoke(app, ["scan", str(image), "--no-cache", *hostile_args])
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()  # piped: tab-separated, header first, nothing else
    assert lines[0] == "path\tverdict\tp_fake\treason" and len(lines) == 2 and lines[1].startswith(str(image))
    _inert(result.stderr)
    assert result.stderr.count("model caveat:") == 1 and CAVEAT_SHOWN in result.stderr
    quiet = runner.invoke(app, ["scan", str(image), "--quiet", *hostile_args])
    assert "model caveat" not in quiet.stderr
    synthetic = runner.invoke(app, ["scan", str(image), "--csv", "--model", str(tiny_gguf[0])])
    assert f"model caveat: {TEST_MODEL_CAVEAT}" in synthetic.stderr and "random" not in synthetic.stdout


def test_scan_json_and_jsonl_carry_the_caveat(image: Path, hostile_args: list[str]) -> None:
    body = json.loads(runner.invoke(app, ["scan", str(image), "--json", *hostile_args]).stdout)
    validate(body, "scan")
    assert body["model"]["caveat"] == CAVEAT_EXACT
    result = runner.invoke(app, ["scan", str(image), "--jsonl", *hostile_args])
    _inert(result.stdout)
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    validate(record, "result")
    assert record["model_caveat"] == CAVEAT_EXACT
    assert "model caveat" not in result.stderr  # the data carries it


def test_explain_and_ask_print_it_once(image: Path, hostile_args: list[str]) -> None:
    for command in (["explain", str(image)], ["ask", str(image), "What is shown?"]):
        result = runner.invoke(app, [*command, "--max-tokens", "2", *hostile_args])
        assert result.exit_code in (0, 1), result.output
        _inert(result.stdout + result.stderr)
        assert (result.stdout + result.stderr).count("model caveat:") == 1
    args = ["explain", str(image), "--json", "--max-tokens", "2", *hostile_args]
    body = json.loads(runner.invoke(app, args).stdout)
    assert body["model"]["caveat"] == CAVEAT_EXACT


def test_reports_carry_it_near_the_verdict(image: Path, tmp_path: Path, hostile_args: list[str]) -> None:
    out = tmp_path / "reports"
    args = ["report", str(image), "--out", str(out), "-f", "html", "-f", "md", "-f", "json"]
    result = runner.invoke(app, [*args, "--max-tokens", "2", *hostile_args])
    assert result.exit_code in (0, 1), result.output
    written = {Path(line).suffix: Path(line).read_text() for line in result.stdout.splitlines()}
    document = json.loads(written[".json"])
    validate(document, "report")
    assert document["verdict"]["model_caveat"] == CAVEAT_EXACT
    page = written[".html"]
    assert '<p class="model-caveat" id="model-caveat"><strong>Model caveat:</strong> \\x1b[31mRED' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert page.index('id="model-caveat"') - page.index('id="verdict"') < 300  # right below the verdict
    markdown = written[".md"]
    (line,) = [line for line in markdown.splitlines() if line.startswith("> **Model caveat:**")]
    assert "&lt;script&gt;" in line and "\\[bold\\]markup" in line
    assert "http://" not in line and "http\\://evil.example/x line two" in line  # not an autolink
    assert markdown.index("> **Model caveat:**") < markdown.index("## Caveats")
    _inert(page + markdown)
    index_dir = tmp_path / "index"
    runner.invoke(app, ["scan", str(image), "--report-dir", str(index_dir), *hostile_args])
    index = (index_dir / "index.html").read_text()
    assert index.count('id="model-caveat"') == 1 and "&lt;script&gt;alert(1)" in index


def test_no_card_no_caveat_anywhere(image: Path, tmp_path: Path, cardless_args: list[str]) -> None:
    scan = runner.invoke(app, ["scan", str(image), "--report-dir", str(tmp_path / "r"), *cardless_args])
    assert scan.exit_code in (0, 1) and "model caveat" not in scan.stderr
    assert 'id="model-caveat"' not in (tmp_path / "r" / "index.html").read_text()
    body = json.loads(runner.invoke(app, ["scan", str(image), "--json", *cardless_args]).stdout)
    validate(body, "scan")
    assert body["model"]["caveat"] is None
    out = tmp_path / "reports"
    args = ["report", str(image), "--out", str(out), "-f", "md", "-f", "html", *cardless_args]
    report = runner.invoke(app, args)
    written = [Path(line).read_text() for line in report.stdout.splitlines()]
    assert written and not any("Model caveat" in text or "model caveat" in text for text in written)
    explain = runner.invoke(app, ["explain", str(image), "--max-tokens", "2", *cardless_args])
    assert explain.exit_code in (0, 1) and "model caveat" not in explain.stdout + explain.stderr
