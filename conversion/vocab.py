"""Tokenizer -> GGUF vocabulary keys (byte-level BPE from ``tokenizer.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gguf

from conversion.checkpoint import Checkpoint
from fakescope_cli.errors import ConversionError


@dataclass
class BpeVocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    pre: str
    special_ids: dict[str, int]
    add_bos: bool


def _pre_tokenizer_name(pre: dict[str, Any] | None) -> str:
    """Map the tokenizer's pre-tokenizer to the llama.cpp ``tokenizer.ggml.pre`` name."""

    def is_byte_level(node: dict[str, Any]) -> bool:
        return node.get("type") == "ByteLevel" and node.get("use_regex", True)

    if pre is None:
        raise ConversionError("tokenizer.json has no pre_tokenizer; only byte-level BPE is supported")
    if is_byte_level(pre):
        return "gpt-2"
    if pre.get("type") == "Sequence":
        parts = pre.get("pretokenizers", [])
        if (
            len(parts) == 2
            and parts[0].get("type") == "Digits"
            and parts[0].get("individual_digits")
            and is_byte_level(parts[1])
        ):
            return "smollm"
    raise ConversionError(
        "unsupported pre-tokenizer in tokenizer.json (supported: ByteLevel as in GPT-2, "
        f"Digits+ByteLevel as in SmolLM): {json.dumps(pre)[:200]}"
    )


def read_bpe_vocab(checkpoint: Checkpoint, vocab_size: int) -> BpeVocab:
    path = checkpoint.root / "tokenizer.json"
    if not path.is_file():
        raise ConversionError(f"{checkpoint.root}: no tokenizer.json (byte-level BPE tokenizer required)")
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise ConversionError(f"tokenizer model {model.get('type')!r} is not BPE")
    pre = _pre_tokenizer_name(data.get("pre_tokenizer"))

    by_id: dict[int, tuple[str, int]] = {}
    for text, idx in model["vocab"].items():
        by_id[int(idx)] = (text, int(gguf.TokenType.NORMAL))
    for added in data.get("added_tokens", []):
        text = added["content"]
        # As llama.cpp's converter does: added tokens spelled like markup count as control tokens.
        looks_special = text.startswith("<") and text.endswith(">") and len(text) > 2
        kind = int(
            gguf.TokenType.CONTROL if added.get("special") or looks_special else gguf.TokenType.USER_DEFINED
        )
        by_id[int(added["id"])] = (text, kind)
    size = max(vocab_size, max(by_id) + 1)
    tokens: list[str] = []
    types: list[int] = []
    for idx in range(size):
        text, kind = by_id.get(idx, (f"[PAD{idx}]", int(gguf.TokenType.UNUSED)))
        tokens.append(text)
        types.append(int(kind))

    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    index = {text: idx for idx, text in enumerate(tokens)}
    special_ids: dict[str, int] = {}
    for role in ("bos", "eos", "unk", "pad"):
        value = checkpoint.tokenizer_config.get(f"{role}_token")
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str) and value in index:
            special_ids[role] = index[value]
    add_bos = bool(checkpoint.tokenizer_config.get("add_bos_token", False))
    return BpeVocab(tokens, types, merges, pre, special_ids, add_bos)


def write_bpe_vocab(writer: gguf.GGUFWriter, vocab: BpeVocab, chat_template: str | None) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    setters = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for role, token_id in vocab.special_ids.items():
        setters[role](token_id)
    writer.add_add_bos_token(vocab.add_bos)
    if chat_template:
        writer.add_chat_template(chat_template)
