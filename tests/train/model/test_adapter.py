"""A LoRA run's adapter folder merged into its base elsewhere gives the run's own merged model; a
base with other frozen weights is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conversion.safetensors_io import read_index, read_tensor
from fakescope_cli.errors import ConfigError
from tests.train.model.test_sft_and_eval import _config, _conversations
from train.cli import main
from train.model.adapter import BASE_RECORD, merge_adapter
from train.model.config import load_config

pytest.importorskip("peft")


def _tensors(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*.safetensors")):
        out.update({name: read_tensor(entry) for name, entry in read_index(path).items()})
    return out


@pytest.fixture(scope="module")
def lora_run(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    from train.model.sft import run_sft

    folder = tmp_path_factory.mktemp("lora")
    _conversations(folder)
    result = run_sft(load_config(_config(folder, tiny_checkpoint, max_steps=4, save_steps=4)))
    return folder, result


def test_merge_elsewhere_equals_the_runs_own_merge(lora_run, tiny_checkpoint: Path, tmp_path: Path) -> None:
    _, result = lora_run
    assert result.adapter is not None and (result.adapter / BASE_RECORD).is_file()
    record = json.loads((result.adapter / BASE_RECORD).read_text())
    assert record["replaced_modules"] == ["vision_model", "connector"]

    merged = merge_adapter(tiny_checkpoint, result.adapter, tmp_path / "merged").merged
    ours, theirs = _tensors(merged), _tensors(result.merged)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-6, err_msg=name)
    # the training changed something, so the comparison above is not between two copies of the base
    base = _tensors(tiny_checkpoint)
    assert any(not np.array_equal(base[n], ours[n]) for n in base if "vision_model" in n)
    assert (merged / "fakescope-training.json").is_file()


def test_cli_merges_and_exports(lora_run, tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    _, result = lora_run
    args = ["merge-adapter", "--base", str(tiny_checkpoint), "--adapter", str(result.adapter)]
    args += [
        "--out",
        str(tmp_path / "m"),
        "--export",
        str(tmp_path / "gguf"),
        "--name",
        "t",
        "--quant",
        "f32",
    ]
    assert main(args) == 0
    assert "frozen tensors" in capsys.readouterr().out
    assert (tmp_path / "gguf" / "t.gguf").is_file() and (tmp_path / "gguf" / "t.mmproj.gguf").is_file()


def test_a_base_with_other_frozen_weights_is_refused(lora_run, tiny_checkpoint: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    _, result = lora_run
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint, other)
    weights = next(other.glob("*.safetensors"))
    tensors = load_file(weights)
    name = next(n for n in sorted(tensors) if "text_model" in n and n.endswith("weight"))
    tensors[name] = tensors[name] + np.float32(1e-3)
    save_file(tensors, weights, metadata={"format": "pt"})
    with pytest.raises(ConfigError, match="frozen weights differ"):
        merge_adapter(other, result.adapter, tmp_path / "m")
    assert not (tmp_path / "m").exists()

    # only the vision tower differs (it is replaced by the adapter): accepted
    tensors = load_file(next(tiny_checkpoint.glob("*.safetensors")))
    name = next(n for n in sorted(tensors) if "vision_model" in n and n.endswith("weight"))
    tensors[name] = tensors[name] * 0
    save_file(tensors, weights, metadata={"format": "pt"})
    merge_adapter(other, result.adapter, tmp_path / "m")


def test_cli_errors_name_the_folder(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    args = [
        "merge-adapter",
        "--base",
        str(tiny_checkpoint),
        "--adapter",
        str(tmp_path),
        "--out",
        str(tmp_path / "m"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path) in err and "adapter_config.json" in err


def test_a_bf16_run_is_merged_in_bf16(lora_run, tiny_checkpoint: Path, tmp_path: Path) -> None:
    """A run that trained a bf16-loaded base is merged into the same bf16 weights, not float32 ones."""
    import torch
    from peft import PeftModel

    from train.model.hf_model import load_model

    _, result = lora_run
    adapter = tmp_path / "adapter"
    shutil.copytree(result.adapter, adapter)
    record = json.loads((adapter / BASE_RECORD).read_text())
    assert record["dtype"] == "float32"  # this run trained on the CPU in float32
    (adapter / BASE_RECORD).write_text(json.dumps(record | {"dtype": "bfloat16"}))
    merged = merge_adapter(tiny_checkpoint, adapter, tmp_path / "merged").merged
    _, model = load_model(tiny_checkpoint, torch.bfloat16)
    expected = PeftModel.from_pretrained(model, adapter).merge_and_unload().state_dict()
    ours = _tensors(merged)
    lora_merged = [n for n in ours if "text_model" in n and "q_proj.weight" in n]
    assert lora_merged and {read_index(next(merged.glob("*.safetensors")))[lora_merged[0]].dtype} == {"BF16"}
    for name in lora_merged:
        np.testing.assert_array_equal(ours[name], expected[name].float().numpy(), err_msg=name)
    (adapter / BASE_RECORD).write_text(json.dumps(record | {"dtype": "int8"}))
    with pytest.raises(ConfigError, match="dtype 'int8'"):
        merge_adapter(tiny_checkpoint, adapter, tmp_path / "m2")


def test_the_processor_the_run_used_comes_with_the_adapter(
    lora_run, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A base rebuilt elsewhere may carry another library version's tokenizer files; the merge
    keeps the ones the run was trained with."""
    _, result = lora_run
    assert (result.adapter / "processor" / "chat_template.jinja").is_file()
    other = tmp_path / "rebuilt"
    shutil.copytree(tiny_checkpoint, other)
    (other / "chat_template.jinja").write_text("{{ 'a different template' }}")
    merged = merge_adapter(other, result.adapter, tmp_path / "m").merged
    assert (merged / "chat_template.jinja").read_text() == (
        tiny_checkpoint / "chat_template.jinja"
    ).read_text()
