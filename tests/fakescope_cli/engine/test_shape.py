"""The two Idefics3 shapes libmtmd runs unlike transformers, found and refused with a clear line.

1. Longest edge equal to the tile: transformers gives one global image, libmtmd a 1x1 grid plus an
   overview. 2. A vocabulary without a single "\\n\\n" token: libmtmd looks the text up by exact
   piece, gets no token, and llama.cpp rejects the batch. Each is reproduced first (the real
   failure, with our refusal switched off), then refused by the converter and by the engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conversion.export import export_checkpoint
from conversion.synthetic import TinyShape, build_tiny_idefics3
from fakescope_cli.app import app
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.errors import ConversionError, InferenceError, ModelFileError
from fakescope_cli.imageio import load_image
from fakescope_cli.models import ModelFiles
from tests.conftest import write_test_image


def _set_u32(path: Path, key: str, value: int) -> None:
    """Change one UINT32 metadata value of a GGUF in place (key string, type 4, value)."""
    data = bytearray(path.read_bytes())
    at = data.index(key.encode()) + len(key)
    assert int.from_bytes(data[at : at + 4], "little") == 4  # GGUF_TYPE_UINT32
    data[at + 4 : at + 8] = value.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_converter_refuses_a_longest_edge_equal_to_the_tile(tmp_path: Path) -> None:
    checkpoint = build_tiny_idefics3(tmp_path / "ck", TinyShape(tile=32, longest_edge=32))
    with pytest.raises(ConversionError, match=r"longest edge \(32 px\) is not above the tile \(32 px\)"):
        export_checkpoint(checkpoint, tmp_path / "out", outtype="f32")


def test_engine_refuses_a_longest_edge_equal_to_the_tile(tmp_path: Path, tiny_gguf) -> None:
    text, mmproj = tiny_gguf
    bad = tmp_path / "bad-mmproj.gguf"
    shutil.copy(mmproj, bad)
    _set_u32(bad, "clip.vision.preproc_image_size", 32)
    with pytest.raises(ModelFileError, match=r"longest edge \(32 px\) is not above its tile \(32 px\)"):
        LlamaEngine(ModelFiles(text, bad, "test"))
    image = write_test_image(tmp_path / "x.png")
    result = CliRunner().invoke(
        app, ["scan", str(image), "--model", str(text), "--mmproj", str(bad), "--no-cache"]
    )
    assert result.exit_code == 2
    assert "1x1 grid" in result.stderr and "Traceback" not in result.output


def test_crop_size_must_be_what_the_processor_keeps(tmp_path: Path, crops_gguf) -> None:
    text, mmproj = crops_gguf
    bad = tmp_path / "mmproj-96.gguf"
    shutil.copy(mmproj, bad)
    _set_u32(bad, "clip.vision.preproc_image_size", 96)
    with pytest.raises(ModelFileError, match="64 px crops would be resized to 96 px"):
        LlamaEngine(ModelFiles(text, bad, "test"))


def _drop_double_newline(checkpoint: Path) -> None:
    """Remove the "\\n\\n" token (byte-level "ĊĊ") and every merge that makes it."""
    path = checkpoint / "tokenizer.json"
    data = json.loads(path.read_text())
    model = data["model"]
    model["vocab"] = {k: v for k, v in model["vocab"].items() if "ĊĊ" not in k}

    def keep(merge: object) -> bool:
        parts = merge.split(" ") if isinstance(merge, str) else list(merge)  # type: ignore[arg-type]
        return "ĊĊ" not in "".join(parts)

    model["merges"] = [m for m in model["merges"] if keep(m)]
    path.write_text(json.dumps(data))


def test_vocabulary_without_double_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint = build_tiny_idefics3(tmp_path / "ck")
    _drop_double_newline(checkpoint)
    with pytest.raises(ConversionError, match=r"no single token for '\\n\\n'"):
        export_checkpoint(checkpoint, tmp_path / "refused", outtype="f32")

    # The failure itself, with both refusals switched off: llama.cpp rejects the prompt.
    import conversion.idefics3
    import fakescope_cli.engine.shape

    monkeypatch.setattr(conversion.idefics3, "IDEFICS3_PIECES", {})
    exported = export_checkpoint(checkpoint, tmp_path / "out", outtype="f32")
    image = load_image(write_test_image(tmp_path / "x.png"))
    with monkeypatch.context() as patched:
        patched.setattr(fakescope_cli.engine.shape, "IDEFICS3_LOOKUPS", ())
        with (
            LlamaEngine(ModelFiles(exported.text, exported.mmproj, "test")) as engine,
            pytest.raises(InferenceError, match="failed to decode"),
        ):
            engine.score(image)
    # Refused up front, naming what is missing.
    with pytest.raises(ModelFileError, match=r"no single token for '\\n\\n'"):
        LlamaEngine(ModelFiles(exported.text, exported.mmproj, "test"))
