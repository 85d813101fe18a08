"""`python -m conversion export|inspect`: quantization, dry run, and what bad input leaves behind."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.cli import main as conversion_main
from conversion.export import export_checkpoint
from fakescope_cli.gguf_header import read_header
from fakescope_cli.models import file_sha256
from fakescope_cli.profile import load_profile_toml


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_q8_0_export_is_quantized_by_llama_cpp(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = export_checkpoint(tiny_checkpoint, tmp_path, name="q", quant="q8_0")
    text = read_header(result.text)
    assert text.file_type == "Q8_0"
    assert text.tensor_types().get("Q8_0", 0) > 0
    assert text.metadata["fakescope.profile.label_fake"] == "fake"  # the quantizer keeps our keys
    # Idefics3's projector defaults to f32, the type libmtmd encodes it fastest from on CPU
    assert set(read_header(result.mmproj).tensor_types()) == {"F32"}
    manifest = json.loads(result.manifest.read_text())
    assert manifest["quantization"] == "q8_0"
    assert manifest["files"]["text"]["sha256"] == file_sha256(result.text)
    assert manifest["files"]["mmproj"]["type"] == "f32"
    assert _leftovers(tmp_path) == ["q.gguf", "q.manifest.json", "q.mmproj.gguf"]


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = conversion_main(
        ["export", str(tiny_checkpoint), "--out", str(out), "--quant", "q4_k_m", "--dry-run"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Idefics3ForConditionalGeneration" in printed
    assert "then quantized to q4_k_m" in printed
    assert (
        "blk.0.attn_q.weight" in printed and "<- model.text_model.layers.0.self_attn.q_proj.weight" in printed
    )
    assert "mm.model.fc.weight" in printed
    assert not out.exists()


def test_inspect_escapes_control_characters(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('judge_prompt = "Real?\\u001b[31m red \\u202e"\n')
    export_checkpoint(tiny_checkpoint, tmp_path, name="x", quant="f16", profile=load_profile_toml(profile))
    assert conversion_main(["inspect", str(tmp_path / "x.gguf")]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\u202e" not in printed
    assert "Real?\\x1b[31m red \\u202e" in printed
    assert "token_embd.weight  F16" in printed


def test_inspect_says_when_a_file_is_not_gguf(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a gguf")
    assert conversion_main(["inspect", str(bogus)]) == 2
    assert "not a GGUF file" in capsys.readouterr().err


def _broken_copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    return broken


def test_missing_tokenizer_is_one_clear_error(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    broken = _broken_copy(tiny_checkpoint, tmp_path)
    (broken / "tokenizer.json").unlink()
    out = tmp_path / "out"
    assert conversion_main(["export", str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "no tokenizer.json" in err
    assert _leftovers(out) == []


def test_mismatched_shapes_are_refused_before_writing(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    broken = _broken_copy(tiny_checkpoint, tmp_path)
    config = json.loads((broken / "config.json").read_text())
    config["text_config"]["intermediate_size"] += 8
    (broken / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    assert conversion_main(["export", str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "config.json and the weights do not match" in err and "mlp" in err
    assert _leftovers(out) == []


def test_missing_layer_is_refused(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    broken = _broken_copy(tiny_checkpoint, tmp_path)
    config = json.loads((broken / "config.json").read_text())
    config["text_config"]["num_hidden_layers"] += 1
    (broken / "config.json").write_text(json.dumps(config))
    assert conversion_main(["export", str(broken), "--out", str(tmp_path / "o")]) == 2
    assert "blk.2." in capsys.readouterr().err


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize(("quant", "limit"), [("f32", 300_000), ("q8_0", 120_000)])
def test_full_disk_leaves_nothing_behind(
    tiny_checkpoint: Path, tmp_path: Path, quant: str, limit: int
) -> None:
    """A write that fails for lack of space (here: a file-size limit, the same failure to the
    writer) gives one error line, exit code 2, and no file at all in the output folder."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conversion",
            "export",
            str(tiny_checkpoint),
            "--out",
            str(out),
            "--quant",
            quant,
        ],
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(limit),
        env={**os.environ, "FAKESCOPE_DEBUG": ""},
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "disk space" in errors[0]
    assert _leftovers(out) == []


def test_quantized_text_starts_from_the_checkpoints_precision(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """An f32 checkpoint is quantized from an f32 scratch copy, not rounded to f16 first."""
    from conversion.checkpoint import Checkpoint
    from conversion.quantize import quantize_text_gguf

    assert Checkpoint.open(tiny_checkpoint).stores_f32
    result = export_checkpoint(tiny_checkpoint, tmp_path / "q", name="q", quant="q8_0")
    f32 = export_checkpoint(tiny_checkpoint, tmp_path / "f32", name="f", quant="f32")
    f16 = export_checkpoint(tiny_checkpoint, tmp_path / "f16", name="h", quant="f16")
    from_f32 = quantize_text_gguf(f32.text, tmp_path / "from-f32.gguf", "q8_0")
    from_f16 = quantize_text_gguf(f16.text, tmp_path / "from-f16.gguf", "q8_0")
    data = result.text.read_bytes()
    assert data[-4096:] == from_f32.read_bytes()[-4096:] != from_f16.read_bytes()[-4096:]


def test_a_config_transformers_itself_rejects_is_one_clear_error(
    tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    """transformers' config validators raise their own exception types (a hidden size that is not a
    multiple of the head count, here); the converter still answers with one line and exit 2."""
    broken = _broken_copy(tiny_checkpoint, tmp_path)
    config = json.loads((broken / "config.json").read_text())
    config["text_config"]["hidden_size"] = 7
    (broken / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    assert conversion_main(["export", str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert _leftovers(out) == []
