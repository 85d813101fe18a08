"""The converter writes the model card into the text GGUF (and the manifest), from --card or the
checkpoint's own fakescope-card.toml; the synthetic test models carry the random-weights caveat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.cli import main
from fakescope_cli.card import KEY_CAVEAT, KEY_LIMITS, TEST_MODEL_CAVEAT, TEST_MODEL_LIMITS
from fakescope_cli.gguf_header import read_header


def test_synthetic_models_carry_the_test_caveat(tiny_gguf) -> None:
    text, mmproj = tiny_gguf
    metadata = read_header(text).metadata
    assert metadata[KEY_CAVEAT] == TEST_MODEL_CAVEAT == "random weights: a test model, not a detector"
    assert metadata[KEY_LIMITS] == TEST_MODEL_LIMITS
    assert KEY_CAVEAT not in read_header(mmproj).metadata  # the card lives in the text GGUF only
    manifest = json.loads(text.with_name("tiny.manifest.json").read_text())
    assert manifest["card"] == {"caveat": TEST_MODEL_CAVEAT, "limits": TEST_MODEL_LIMITS}


def test_card_flag_overrides_the_checkpoint_card(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    card = tmp_path / "card.toml"
    card.write_text('caveat = "never saw Stable Diffusion or Midjourney"\n')
    out = tmp_path / "out"
    assert main(["export", str(tiny_checkpoint), "--out", str(out), "--name", "m", "--card", str(card)]) == 0
    metadata = read_header(out / "m.gguf").metadata
    assert metadata[KEY_CAVEAT] == "never saw Stable Diffusion or Midjourney"
    assert KEY_LIMITS not in metadata
    assert "wrote" in capsys.readouterr().out


def test_bad_card_is_one_error_line_and_nothing_written(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.toml"
    card.write_text('caveat = "line one\\nline two"\n')
    out = tmp_path / "out"
    assert main(["export", str(tiny_checkpoint), "--out", str(out), "--card", str(card)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "card.toml" in err and "one line" in err
    assert not out.exists()
