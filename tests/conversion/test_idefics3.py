"""Our Idefics3 exporter: what it writes, and that it refuses what it cannot convert."""

import json
from pathlib import Path

import pytest

from conversion.cli import main as conversion_main
from conversion.export import export_checkpoint
from conversion.registry import exporter_for, supported_architectures
from fakescope_cli.errors import ConversionError
from fakescope_cli.gguf_header import read_header
from fakescope_cli.models import file_sha256


def test_text_gguf_has_vocab_profile_and_provenance(tiny_gguf) -> None:
    meta = read_header(tiny_gguf[0]).metadata
    assert meta["general.architecture"] == "llama"
    assert meta["tokenizer.ggml.model"] == "gpt2"
    assert meta["tokenizer.ggml.pre"] == "smollm"
    assert "<image>" in meta["tokenizer.chat_template"]
    assert meta["fakescope.profile.version"] == 2
    assert meta["fakescope.profile.label_real"] == "real"
    assert len(meta["fakescope.source.sha256"]) == 64


def test_mmproj_keys_libmtmd_needs(tiny_gguf) -> None:
    header = read_header(tiny_gguf[1])
    meta = header.metadata
    assert meta["clip.projector_type"] == "idefics3"
    assert meta["clip.vision.projector.scale_factor"] == 2
    assert meta["clip.vision.preproc_image_size"] == 64
    assert meta["clip.vision.projection_dim"] == 64
    names = {t.name for t in header.tensors}
    assert {
        "mm.model.fc.weight",
        "v.patch_embd.weight",
        "v.position_embd.weight",
        "v.post_ln.weight",
    } <= names
    assert {"v.blk.1.attn_q.weight", "v.blk.1.ffn_down.bias"} <= names


def test_manifest_matches_files(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = export_checkpoint(tiny_checkpoint, tmp_path, name="m", outtype="f16")
    manifest = json.loads(result.manifest.read_text())
    assert manifest["files"]["text"]["sha256"] == file_sha256(result.text)
    assert manifest["files"]["mmproj"]["sha256"] == file_sha256(result.mmproj)
    assert manifest["architecture"] == "Idefics3ForConditionalGeneration"
    types = read_header(result.text).tensor_types()
    assert types.get("F16", 0) > 0  # 2-D weights in f16, norms stay f32
    assert not list(tmp_path.glob("*.partial"))


def test_profile_file_is_written_into_the_gguf(tiny_checkpoint: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('name = "custom"\njudge_prompt = "Real or synthetic?"\nlabel_fake = "synthetic"\n')
    code = conversion_main(
        [
            "export",
            str(tiny_checkpoint),
            "--out",
            str(tmp_path / "o"),
            "--name",
            "c",
            "--outtype",
            "f32",
            "--profile",
            str(profile),
        ]
    )
    assert code == 0
    meta = read_header(tmp_path / "o" / "c.gguf").metadata
    assert meta["fakescope.profile.judge_prompt"] == "Real or synthetic?"
    assert meta["fakescope.profile.label_fake"] == "synthetic"


def test_unknown_architecture_lists_supported(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(ConversionError, match="Idefics3ForConditionalGeneration"):
        exporter_for("MysteryForCausalLM")
    broken = tmp_path / "ckpt"
    broken.mkdir()
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    config["architectures"] = ["MysteryForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    assert conversion_main(["export", str(broken), "--out", str(tmp_path / "o")]) == 2
    assert "unsupported architecture" in capsys.readouterr().err
    assert "SmolVLMForConditionalGeneration" in supported_architectures()


def test_rope_permutation_interleaves_halves() -> None:
    import numpy as np

    from conversion.llama_text import rope_permute

    weight = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
    permuted = rope_permute(weight, n_head=2)
    # Per head of 4 rows, HF's halves [0,1 | 2,3] interleave to 0,2,1,3.
    assert permuted[:4, 0].tolist() == [0.0, 6.0, 3.0, 9.0]
    assert sorted(permuted.ravel().tolist()) == weight.ravel().tolist()


def test_config_keys_left_out_get_library_defaults(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """Published SmolVLM configs omit keys whose defaults live in transformers (the vision
    layer count, for one); the converter reads them as transformers would."""
    import shutil

    from transformers import Idefics3VisionConfig

    from conversion.checkpoint import Checkpoint

    sparse = tmp_path / "sparse"
    shutil.copytree(tiny_checkpoint, sparse)
    config = json.loads((sparse / "config.json").read_text())
    for key in ("num_hidden_layers", "intermediate_size", "layer_norm_eps"):
        del config["vision_config"][key]
    (sparse / "config.json").write_text(json.dumps(config))
    vision = Checkpoint.open(sparse).config["vision_config"]
    defaults = Idefics3VisionConfig()
    assert vision["num_hidden_layers"] == defaults.num_hidden_layers
    assert vision["intermediate_size"] == defaults.intermediate_size
    assert vision["hidden_size"] == 32  # what the file says still wins
