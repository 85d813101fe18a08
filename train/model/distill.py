"""The vision stage's judgment taught to the language model: a distillation term for the SFT.

Instruction tuning on hard labels alone ranked images worse than the tower it starts from (the
stage-1 tower's whole-image AUC 0.905 became 0.879 after SFT): a yes/no answer carries one bit a
crop, where the tower's logit says how sure it is. For each judgment item (an answer that is the
label word alone) whose image has a teacher logit ``t`` (``train.run.mini.tower_targets``), the
answer position's score ``s = logit(first token of the fake answer) - logit(first token of the
real answer)``, the quantity token-based estimation turns into p(fake), is pulled towards
``sigmoid(t / temperature)`` by binary cross-entropy, on top of the usual next-token loss.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from fakescope_cli.errors import DatasetError
from train.model.hf_model import IGNORE, training_example


def read_teacher(path: Path) -> dict[str, float]:
    """Image path -> teacher logit, as ``tower_targets`` writes it ({"logits": {path: value}})."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the teacher logits ({exc})") from None
    logits = raw.get("logits") if isinstance(raw, dict) else None
    if not isinstance(logits, dict) or not all(isinstance(v, (int, float)) for v in logits.values()):
        raise DatasetError(f"{path}: expected {{'logits': {{image path: number}}}}")
    return {str(k): float(v) for k, v in logits.items() if math.isfinite(v)}


def judgment_label(messages: list[dict[str, Any]], fake: str, real: str) -> str | None:
    """``fake`` or ``real`` when the conversation is one question answered by the label word alone."""
    if len(messages) != 2 or messages[1]["role"] != "assistant":
        return None
    answer = " ".join(part.get("text", "") for part in messages[1]["content"]).strip().lower()
    return answer if answer in (fake, real) else None


def answer_token(example: dict[str, torch.Tensor]) -> int:
    """The first labelled token of a training example (the answer's first token)."""
    labelled = (example["labels"] != IGNORE).nonzero()
    if not labelled.numel():
        raise DatasetError("a judgment item has no labelled answer token")
    return int(example["input_ids"][int(labelled[0])])


def label_token_ids(
    processor: Any, image: Any, messages: list[dict[str, Any]], fake: str, real: str
) -> tuple[int, int]:
    """(fake, real) first answer tokens as the training examples label them, from one judgment item
    rendered with each answer (the chat template decides whether a space is glued on)."""
    ids = []
    for word in (fake, real):
        swapped = [messages[0], {"role": "assistant", "content": [{"type": "text", "text": word}]}]
        ids.append(answer_token(training_example(processor, image, swapped, 10_000)))
    if ids[0] == ids[1]:
        raise DatasetError(f"the answers {fake!r} and {real!r} start with the same token")
    return ids[0], ids[1]


def answer_scores(logits: torch.Tensor, labels: torch.Tensor, fake_id: int, real_id: int) -> torch.Tensor:
    """s per row: fake minus real logit at the position that predicts the first labelled token."""
    labelled = labels != IGNORE
    first = torch.argmax(labelled.int(), dim=1)  # rows without labels give 0 and are masked later
    at = (first - 1).clamp(min=0)
    rows = logits[torch.arange(logits.shape[0], device=logits.device), at].float()
    return rows[:, fake_id] - rows[:, real_id]


def distill_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher: torch.Tensor,
    fake_id: int,
    real_id: int,
    temperature: float = 1.0,
) -> torch.Tensor | None:
    """Mean binary cross-entropy of sigmoid(s) against sigmoid(teacher / temperature) over the rows
    that have a teacher (finite) and a labelled answer; None when no row has one."""
    has = torch.isfinite(teacher) & (labels != IGNORE).any(dim=1)
    if not bool(has.any()):
        return None
    scores = answer_scores(logits, labels, fake_id, real_id)[has]
    target = torch.sigmoid(teacher[has].float() / temperature)
    return torch.nn.functional.binary_cross_entropy_with_logits(scores, target)


def distill_trainer_class(base: type) -> type:
    """A Trainer subclass whose loss adds ``weight`` x the distillation term (``teacher`` inputs)."""

    class DistillTrainer(base):
        def __init__(self, *args: Any, distill: tuple[float, float, int, int], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.distill = distill
            self.distill_losses: list[float] = []
            self._since_log: list[float] = []

        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, **kwargs: Any
        ):
            teacher = inputs.pop("teacher")
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
            weight, temperature, fake_id, real_id = self.distill
            extra = distill_loss(outputs.logits, inputs["labels"], teacher, fake_id, real_id, temperature)
            if extra is not None:
                loss = loss + weight * extra
                if model.training:
                    self.distill_losses.append(float(extra.detach()))
                    self._since_log.append(self.distill_losses[-1])
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
            if "loss" in logs and self._since_log:  # the term's mean since the last line, beside the loss
                logs["distill"] = round(sum(self._since_log) / len(self._since_log), 4)
                self._since_log = []
            super().log(logs, *args, **kwargs)

    return DistillTrainer
