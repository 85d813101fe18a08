"""A Hugging Face vision-language checkpoint with its processor: chat prompts, training examples with
masked labels, and p(fake) by token-based probability estimation on the PyTorch side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from fakescope_cli.engine.labels import variant_token_sequences
from fakescope_cli.errors import DatasetError
from fakescope_cli.profile import ModelProfile
from fakescope_cli.scoring import label_probabilities, label_score

IGNORE = -100


def load_model(checkpoint: Path, dtype: torch.dtype | None = None) -> tuple[Any, Any]:
    """(processor, model) for any image-text-to-text checkpoint transformers can load."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(checkpoint)
    model = AutoModelForImageTextToText.from_pretrained(checkpoint, dtype=dtype or torch.float32)
    return processor, model


def user_turn(question: str, with_image: bool) -> dict[str, Any]:
    content: list[dict[str, str]] = [{"type": "image"}] if with_image else []
    content.append({"type": "text", "text": question})
    return {"role": "user", "content": content}


def assistant_turn(answer: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": answer}]}


def messages_from_llava(conversations: list[dict[str, str]]) -> list[dict[str, Any]]:
    """LLaVA turns ({"from": "human"|"gpt", "value"}) as chat messages; '<image>' marks the image."""
    messages = []
    for turn in conversations:
        text = turn["value"]
        if turn["from"] == "human":
            with_image = "<image>" in text
            messages.append(user_turn(text.replace("<image>", "").strip(), with_image))
        else:
            messages.append(assistant_turn(text))
    return messages


def _common_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    n = min(a.shape[0], b.shape[0])
    differ = (a[:n] != b[:n]).nonzero()
    return int(differ[0]) if differ.numel() else n


def training_example(
    processor: Any,
    image: Image.Image,
    messages: list[dict[str, Any]],
    max_length: int,
    name: str = "conversation",
) -> dict[str, Any]:
    """Model inputs for one conversation, with labels only on the assistant's words.

    Each assistant turn is located by rendering the conversation up to that turn without and with
    the answer, and taking the tokens the two share with the whole conversation: where a template
    glues the answer to the next turn's first token, that token is left unlabelled rather than
    letting the next user turn leak into the labels."""
    full = processor.apply_chat_template(messages, add_generation_prompt=False)
    inputs = processor(text=full, images=[[image]], return_tensors="pt")
    ids = inputs["input_ids"][0]
    if ids.shape[0] > max_length:
        raise DatasetError(f"{name}: {ids.shape[0]} tokens, over train.max_length {max_length}")
    labels = torch.full_like(ids, IGNORE)

    def tokens(text: str) -> torch.Tensor:
        return processor(text=text, images=[[image]], return_tensors="pt")["input_ids"][0]

    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokens(processor.apply_chat_template(messages[:index], add_generation_prompt=True))
        upto = tokens(processor.apply_chat_template(messages[: index + 1], add_generation_prompt=False))
        start, end = _common_prefix(before, ids), _common_prefix(upto, ids)
        labels[start:end] = ids[start:end]
    example = {key: value[0] for key, value in inputs.items()}
    example["labels"] = labels
    return example


class TokenScorer:
    """p(fake) of a PyTorch model: the answer position's logits, label variants teacher-forced."""

    def __init__(self, processor: Any, model: Any, profile: ModelProfile) -> None:
        self.processor, self.model, self.profile = processor, model, profile
        tokenize = lambda text: processor.tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
        self.variants = {
            "fake": variant_token_sequences(profile.label_fake, tokenize),
            "real": variant_token_sequences(profile.label_real, tokenize),
        }

    def p_fake(self, image: Image.Image) -> float:
        return label_probabilities(self.label_logits(image))["fake"]

    def logit(self, image: Image.Image) -> float:
        """s_fake - s_real: the pooled label scores' difference (p(fake) is its sigmoid)."""
        labels = self.label_logits(image)
        return label_score(labels["fake"]) - label_score(labels["real"])

    @torch.no_grad()
    def label_logits(self, image: Image.Image) -> dict[str, list[list[float]]]:
        """Each label variant's sub-token logits at the answer position (teacher-forced)."""
        prompt = self.processor.apply_chat_template(
            [user_turn(self.profile.judge_prompt, True)], add_generation_prompt=True
        )
        prompt += self.profile.answer_prefix
        inputs = self.processor(text=prompt, images=[[image]], return_tensors="pt").to(self.model.device)
        n = inputs["input_ids"].shape[1]
        extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
        base = self._logits(inputs["input_ids"], extra)
        labels: dict[str, list[list[float]]] = {}
        for label, sequences in self.variants.items():
            labels[label] = []
            for seq in sequences:
                if len(seq) > 1:
                    ids = torch.cat(
                        [inputs["input_ids"], torch.tensor([seq[:-1]], device=self.model.device)], dim=1
                    )
                    rows = self._logits(ids, extra)
                else:
                    rows = base
                labels[label].append([float(rows[n - 1 + k][seq[k]]) for k in range(len(seq))])
        return labels

    def _logits(self, ids: torch.Tensor, extra: dict[str, Any]) -> torch.Tensor:
        out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), **extra)
        return out.logits[0].float().cpu()
