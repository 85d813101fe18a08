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


def test_help_lists_exit_codes() -> None:
    result = runner.invoke(app, ["scan", "--help"])
    assert "Exit codes" in result.stdout
