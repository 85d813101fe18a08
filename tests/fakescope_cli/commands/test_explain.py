import json
from pathlib import Path

from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.conftest import write_test_image

runner = CliRunner()


def test_explain_json_records_decoding_and_rationale(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    args = ["explain", str(image), "--model", str(tiny_gguf[0]), "--json", "--max-tokens", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    body = json.loads(result.stdout)
    assert body["decoding"] == {
        "temperature": 0.0,
        "seed": 0,
        "max_tokens": 6,
        "n_ctx": 2048,
        "gpu_layers": 0,
    }
    assert 0.0 <= body["result"]["p_fake"] <= 1.0
    assert "explanation" in body["result"]
    assert "rationale" in body["note"]
    assert runner.invoke(app, args).stdout == result.stdout


def test_explain_unreadable_image(tmp_path: Path, tiny_gguf) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    result = runner.invoke(app, ["explain", str(bad), "--model", str(tiny_gguf[0])])
    assert result.exit_code == 3
    assert "bad.jpg" in result.stderr


def test_explain_and_ask_json_print_the_record_with_its_error(tmp_path: Path, tiny_gguf) -> None:
    """As scan --json does: a script reading stdout gets a record naming the file and the error."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    explained = runner.invoke(app, ["explain", str(bad), "--model", str(tiny_gguf[0]), "--json"])
    assert explained.exit_code == 3
    body = json.loads(explained.stdout)
    assert body["schema"].startswith("fakescope.result/")
    assert body["result"]["path"] == str(bad) and "bad.jpg" in body["result"]["error"]
    assert body["result"]["verdict"] is None and body["model"] is None
    asked = runner.invoke(app, ["ask", str(bad), "Why?", "--model", str(tiny_gguf[0]), "--json"])
    assert asked.exit_code == 3
    body = json.loads(asked.stdout)
    assert body["path"] == str(bad) and body["answer"] is None and "bad.jpg" in body["error"]
    assert "bad.jpg" in asked.stderr


def test_ask(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    result = runner.invoke(
        app,
        [
            "ask",
            str(image),
            "Are the shadows consistent?",
            "--model",
            str(tiny_gguf[0]),
            "--json",
            "--max-tokens",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["question"] == "Are the shadows consistent?"
    assert isinstance(body["answer"], str)


def test_model_info(tiny_gguf) -> None:
    result = runner.invoke(app, ["model", "info", str(tiny_gguf[0]), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["text"]["architecture"] == "llama"
    assert body["mmproj"]["projector_type"] == "idefics3"
    assert len(body["text"]["sha256"]) == 64
    assert body["profile"]["label_fake"] == "fake"
    assert body["text"]["file_type"] == "F32"


def test_piped_model_info_keeps_each_sha256_on_one_line(tiny_gguf) -> None:
    result = runner.invoke(app, ["model", "info", str(tiny_gguf[0])])  # CliRunner: not a terminal
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("sha256:")]
    assert len(lines) == 2 and all(len(line.split(": ", 1)[1]) == 64 for line in lines)


def test_model_info_without_a_model_says_how_to_name_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKESCOPE_SOURCE_ROOT", str(tmp_path))  # no bundled model
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("FAKESCOPE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("FAKESCOPE_MODEL", raising=False)
    result = runner.invoke(app, ["model", "info"])
    assert result.exit_code == 2
    assert "fakescope model info FILE.gguf" in result.stderr and "--model" not in result.stderr


def test_help_lists_exit_codes() -> None:
    result = runner.invoke(app, ["scan", "--help"])
    assert "Exit codes" in result.stdout
