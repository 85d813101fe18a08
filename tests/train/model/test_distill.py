"""The distillation term of the SFT: its arithmetic, which items it takes, and a tiny run in which
the answer position's score moves towards the teacher's logits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from fakescope_cli.errors import ConfigError, DatasetError
from train.model.config import load_config
from train.model.distill import answer_scores, distill_loss, judgment_label, read_teacher
from train.model.hf_model import IGNORE, assistant_turn, user_turn

pytest.importorskip("peft")


def test_the_score_is_read_one_position_before_the_first_labelled_token() -> None:
    logits = torch.zeros(2, 4, 5)
    logits[0, 1, 3], logits[0, 1, 4] = 2.0, -1.0  # row 0: answer token at 2, read at 1
    logits[1, 2, 3], logits[1, 2, 4] = -0.5, 0.5  # row 1: answer token at 3, read at 2
    labels = torch.tensor([[IGNORE, IGNORE, 3, IGNORE], [IGNORE, IGNORE, IGNORE, 4]])
    assert answer_scores(logits, labels, fake_id=3, real_id=4).tolist() == [3.0, -1.0]


def test_the_term_is_cross_entropy_against_the_tempered_teacher_on_rows_that_have_one() -> None:
    logits = torch.zeros(3, 3, 5)
    logits[:, 0, 3] = torch.tensor([1.0, 2.0, 3.0])
    labels = torch.full((3, 3), IGNORE)
    labels[:, 1] = 3
    teacher = torch.tensor([2.0, math.nan, -4.0])
    got = distill_loss(logits, labels, teacher, 3, 4, temperature=2.0)
    q = torch.sigmoid(torch.tensor([1.0, -2.0]))
    s = torch.tensor([1.0, 3.0])
    expected = -(q * torch.log(torch.sigmoid(s)) + (1 - q) * torch.log(1 - torch.sigmoid(s))).mean()
    assert got is not None and torch.isclose(got, expected)
    assert distill_loss(logits, labels, torch.full((3,), math.nan), 3, 4) is None


@pytest.mark.parametrize(
    ("answer", "turns", "expected"),
    [("fake", 2, "fake"), (" Real ", 2, "real"), ("fake, because", 2, None), ("real", 4, None)],
)
def test_only_an_answer_that_is_the_label_word_alone_is_a_judgment(answer: str, turns: int, expected) -> None:
    messages = [user_turn("Real or fake?", True), assistant_turn(answer)]
    if turns == 4:
        messages += [user_turn("Why?", False), assistant_turn("texture")]
    assert judgment_label(messages, "fake", "real") == expected


def test_a_malformed_teacher_file_is_one_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "teacher.json"
    bad.write_text(json.dumps({"logits": {"a.png": "high"}}))
    with pytest.raises(DatasetError, match="teacher.json"):
        read_teacher(bad)
    bad.write_text(json.dumps({"logits": {"a.png": 1.5, "b.png": float("nan")}}))
    assert read_teacher(bad) == {"a.png": 1.5}


def _judgments(folder: Path, count: int = 8) -> tuple[Path, Path]:
    """Judgment items on random images (odd ones fake) and a teacher that contradicts every label
    (logits +-3 and +-0.5 of the other sign): the hard labels alone would move the score away."""
    from tests.train.model.test_sft_and_eval import _conversations

    conversations = _conversations(folder, count, follow_up=False)
    logits = {
        str(folder / f"img{i}.png"): (3.0 if i < count // 2 else 0.5) * (-1 if i % 2 else 1)
        for i in range(count)
    }
    teacher = folder / "teacher.json"
    teacher.write_text(json.dumps({"logits": logits}))
    return conversations, teacher


def _config(folder: Path, checkpoint: Path, teacher: Path | None, **train: object) -> Path:
    settings = {"output_dir": "run", "max_steps": 10, "batch_size": 4, "learning_rate": 0.003,
                "logging_steps": 2, "save_steps": 10, **train}  # fmt: skip
    lines = [f'[model]\ncheckpoint = "{checkpoint}"', '[data]\ntrain = "instruct.json"']
    lines += [f'teacher = "{teacher}"'] if teacher else []
    lines += ["[train]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
    lines += ["[export]\nenabled = false"]
    path = folder / "sft.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_run_with_a_teacher_moves_the_answer_score_towards_it(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from train.model.sft import run_sft

    _, teacher = _judgments(tmp_path)
    result = run_sft(load_config(_config(tmp_path, tiny_checkpoint, teacher, distill_weight=5.0)))
    assert len(result.distill_losses) == result.steps == 10
    first, last = result.distill_losses[:3], result.distill_losses[-3:]
    assert sum(last) / 3 < sum(first) / 3
    recorded = json.loads((result.merged / "fakescope-training.json").read_text())
    assert len(recorded["distill_losses"]) == 10
    log = tmp_path / "run" / "trainer_state.json"
    states = sorted((tmp_path / "run").glob("checkpoint-*/trainer_state.json")) or [log]
    history = json.loads(states[-1].read_text())["log_history"]
    assert any("distill" in entry for entry in history)  # the term is logged beside the loss


def test_a_teacher_weight_without_a_teacher_file_is_refused_before_loading(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    _judgments(tmp_path, 2)
    with pytest.raises(ConfigError, match="data.teacher"):
        load_config(_config(tmp_path, tiny_checkpoint, None, distill_weight=1.0))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(_config(tmp_path, tiny_checkpoint, tmp_path / "missing.json", distill_weight=1.0))
