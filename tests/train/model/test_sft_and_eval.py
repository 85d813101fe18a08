"""Instruction tuning on the tiny random model (CPU), export through our converter, and the
evaluation on both the PyTorch checkpoint and the GGUF export."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from fakescope_cli.errors import ConfigError, DatasetError
from fakescope_cli.profile import DEFAULT_PROFILE
from tests.conftest import write_test_image
from train.data.records import ImageRecord
from train.model.config import load_config

pytest.importorskip("peft")


def _conversations(folder: Path, count: int = 8, follow_up: bool = True) -> Path:
    """``count`` judgments of random images (odd ones fake), each with a follow-up question unless
    ``follow_up`` is off (then each is a judgment item alone)."""
    items = []
    for i in range(count):
        label = "fake" if i % 2 else "real"
        image = write_test_image(folder / f"img{i}.png", seed=i)
        turns = [
            {"from": "human", "value": f"<image>\n{DEFAULT_PROFILE.judge_prompt}"},
            {"from": "gpt", "value": label},
        ]
        if follow_up:
            turns += [
                {"from": "human", "value": "Why?"},
                {"from": "gpt", "value": "the texture shows a pattern"},
            ]
        items.append({"id": str(i), "image": image.name, "conversations": turns})
    path = folder / "instruct.json"
    path.write_text(json.dumps(items))
    return path


def _config(folder: Path, checkpoint: Path, **train: object) -> Path:
    settings = {
        "output_dir": "run",
        "max_steps": 12,
        "batch_size": 4,
        "learning_rate": 0.003,
        "logging_steps": 2,
        "save_steps": 6,
        **train,
    }
    lines = [f'[model]\ncheckpoint = "{checkpoint}"', '[data]\ntrain = "instruct.json"', "[train]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ['[export]\nout_dir = "models"\nname = "tiny-sft"\nouttype = "f32"']
    path = folder / "sft.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    from train.model.sft import run_sft

    folder = tmp_path_factory.mktemp("sft")
    _conversations(folder)
    return folder, run_sft(load_config(_config(folder, tiny_checkpoint)))


def test_loss_goes_down_and_a_gguf_pair_comes_out(trained) -> None:
    folder, result = trained
    assert result.steps == 12
    assert result.losses[-1] < 0.7 * result.losses[0]  # measured: 7.3 -> 3.7 in 12 steps
    assert (result.merged / "config.json").is_file() and (folder / "run" / "sft-config.toml").is_file()
    assert result.gguf is not None and result.gguf.is_file() and result.mmproj is not None


def test_resume_continues_from_the_last_checkpoint(trained, tiny_checkpoint: Path) -> None:
    from train.model.sft import run_sft

    folder, first = trained
    again = folder / "again"
    again.mkdir()
    shutil.copy(folder / "instruct.json", again)
    for image in folder.glob("img*.png"):
        shutil.copy(image, again)
    run_sft(load_config(_config(again, tiny_checkpoint, max_steps=4, save_steps=4)))
    resumed = run_sft(load_config(_config(again, tiny_checkpoint, max_steps=6, save_steps=4)))
    assert resumed.steps == 6
    state = json.loads((again / "run" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4


def test_gguf_and_pytorch_agree_and_eval_prints_both(trained) -> None:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles
    from train.run.evaluate import evaluate, format_table, gguf_scorer, hf_scorer

    folder, result = trained
    records = [
        ImageRecord(
            folder / f"img{i}.png",
            "fake" if i % 2 else "real",
            "test",
            "gen-a" if i % 4 == 1 else "gen-b" if i % 2 else None,
        )
        for i in range(8)
    ]
    with LlamaEngine(ModelFiles(result.gguf, result.mmproj, "test")) as engine:
        report = evaluate(
            records, {"hf": hf_scorer(result.merged, DEFAULT_PROFILE), "gguf": gguf_scorer(engine)}, {"gen-a"}
        )
    hf, gguf = report.backends
    assert max(abs(a - b) for a, b in zip(hf.scores, gguf.scores, strict=True)) < 3e-3  # f32 export
    assert report.held_out_generators == ["gen-b"] and report.seen_generators == ["gen-a"]
    assert hf.overall.roc_auc is not None and hf.overall.roc_auc > 0.9  # it learnt its (tiny) training set
    table = format_table(report)
    assert "hf" in table.splitlines()[0] and "gguf" in table.splitlines()[0]
    assert "gen-b (held out)" in table and "AUC difference" in table
    json.dumps(report.to_dict())


def test_eval_scores_through_the_crops_view_on_both_backends(
    tiny_checkpoint: Path, crops_gguf, tmp_path: Path
) -> None:
    """``eval`` judges whole test images through the CLI's crops view on the PyTorch side too:
    the same native crops at the same positions, aggregated the same way (f32 export)."""
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles
    from tests.conftest import write_textured_image
    from train.run.evaluate import evaluate, gguf_scorer, hf_scorer, view_crops

    records = [
        ImageRecord(
            write_textured_image(tmp_path / f"i{i}.png", (150 + 20 * i, 110), seed=40 + i),
            "fake" if i % 2 else "real",
            "test",
            "gen-a" if i % 2 else None,
        )
        for i in range(4)
    ]
    with LlamaEngine(ModelFiles(crops_gguf[0], crops_gguf[1], "test")) as engine:
        profile = engine.profile
        report = evaluate(
            records, {"hf": hf_scorer(tiny_checkpoint, profile), "gguf": gguf_scorer(engine)}, {"gen-a"}
        )
    hf, gguf = report.backends
    assert max(abs(a - b) for a, b in zip(hf.scores, gguf.scores, strict=True)) < 3e-3
    from PIL import Image

    crops = view_crops(Image.open(records[0].path).convert("RGB"), profile)
    assert len(crops) == 3 and all(c.size == (64, 64) for c in crops)


def test_full_fine_tuning(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from train.model.sft import run_sft

    _conversations(tmp_path, 4)
    result = run_sft(
        load_config(_config(tmp_path, tiny_checkpoint, method="full", max_steps=4, save_steps=4))
    )
    assert result.steps == 4 and result.losses[-1] < result.losses[0]
    assert result.gguf is not None and result.gguf.is_file()


def test_config_typo_names_the_key(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _conversations(tmp_path, 2)
    path = _config(tmp_path, tiny_checkpoint, learning_rat=0.1)
    with pytest.raises(
        ConfigError, match=r"unknown key 'train.learning_rat' \(did you mean 'learning_rate'\?\)"
    ):
        load_config(path)
    bad_method = _config(tmp_path, tiny_checkpoint, method="qlora")
    with pytest.raises(ConfigError, match="train.method"):
        load_config(bad_method)
    missing = _config(tmp_path, tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no config.json"):
        load_config(missing)


def test_unreadable_training_image_stops_before_training(tmp_path: Path) -> None:
    from train.model.sft import read_conversations

    path = _conversations(tmp_path, 2)
    (tmp_path / "img1.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="img1.png"):
        read_conversations(path)


def test_lora_on_a_llava_checkpoint(tmp_path: Path) -> None:
    """The second architecture our converter exports: LoRA tuning and GGUF export work there too."""
    from conversion.synthetic_llava import build_tiny_llava
    from train.model.sft import run_sft

    checkpoint = build_tiny_llava(tmp_path / "llava")
    _conversations(tmp_path, 4)
    result = run_sft(load_config(_config(tmp_path, checkpoint, max_steps=6, save_steps=6)))
    assert result.losses[-1] < result.losses[0]  # measured: 6.5 -> 3.5 in 8 steps
    assert result.gguf is not None and result.gguf.is_file()


def test_labels_cover_only_the_assistant_words(tmp_path: Path) -> None:
    """LLaVA's template glues an answer to the next "USER:": that turn must not leak into the labels."""
    from PIL import Image

    from conversion.synthetic_llava import build_tiny_llava
    from train.model.hf_model import load_model, messages_from_llava, training_example

    processor, _ = load_model(build_tiny_llava(tmp_path / "llava"))
    turns = [
        {"from": "human", "value": "<image>\nIs this image real or fake?"},
        {"from": "gpt", "value": "fake"},
        {"from": "human", "value": "Why?"},
        {"from": "gpt", "value": "the texture shows a pattern"},
    ]
    example = training_example(processor, Image.new("RGB", (32, 32)), messages_from_llava(turns), 4096)
    spans, current = [], []
    for token, label in zip(example["input_ids"].tolist(), example["labels"].tolist(), strict=True):
        if label != -100:
            current.append(token)
        elif current:
            spans.append(processor.tokenizer.decode(current))
            current = []
    if current:
        spans.append(processor.tokenizer.decode(current))
    assert [span.strip() for span in spans] == ["fake", "the texture shows a pattern"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("grad_accum = 0", "train.grad_accum must be above 0"),
        ('lora_targets = "q_proj"', "train.lora_targets' must be list[str]"),
        ("epochs = true", "train.epochs' must be float"),
    ],
)
def test_config_values_are_checked_before_loading(
    tmp_path: Path, tiny_checkpoint: Path, setting, message
) -> None:
    _conversations(tmp_path, 2)
    path = _config(tmp_path, tiny_checkpoint)
    path.write_text(path.read_text().replace("[train]", f"[train]\n{setting}"))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_export_settings_are_checked_before_training(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _conversations(tmp_path, 2)
    path = _config(tmp_path, tiny_checkpoint)
    text = path.read_text()
    path.write_text(text.replace('outtype = "f32"', 'outtype = "q5_k"'))
    with pytest.raises(ConfigError, match="export.outtype"):
        load_config(path)
    path.write_text(text.replace('name = "tiny-sft"', 'name = "a/b"'))
    with pytest.raises(ConfigError, match="export.name"):
        load_config(path)


def test_vision_tower_and_connector_are_chosen_apart(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """The CPU run keeps stage 1's vision tower frozen and trains the connector (train_connector)."""
    from train.model.hf_model import load_model
    from train.model.sft import fully_trained_modules

    _conversations(tmp_path, 2)
    _, model = load_model(tiny_checkpoint)
    chosen = {
        (vision, connector): fully_trained_modules(
            model,
            load_config(_config(tmp_path, tiny_checkpoint, train_vision=vision, train_connector=connector)),
        )
        for vision in (True, False)
        for connector in (True, False)
    }
    assert chosen[(True, True)] == ["vision_model", "connector"]
    assert chosen[(False, True)] == ["connector"]
    assert chosen[(True, False)] == ["vision_model"]
    assert chosen[(False, False)] == []
