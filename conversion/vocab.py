"""Tokenizer -> GGUF vocabulary keys, from ``tokenizer.json``.

Two families: byte-level BPE (GPT-2 / SmolLM style, GGUF ``gpt2``) and SentencePiece-style BPE
with byte fallback and a ``▁`` word marker (Llama / Vicuna, GGUF ``llama``). For the latter,
llama.cpp merges the adjacent pair whose joined text has the highest score, so each token's
score is minus the rank of the merge that makes it: the same order Hugging Face's BPE applies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import gguf

from conversion.checkpoint import Checkpoint
from fakescope_cli.errors import ConversionError

# Qwen2's pre-tokenizer split, as its tokenizer.json spells it (llama.cpp: pre-tokenizer "qwen2").
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


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
            and parts[0].get("type") == "Split"
            and (parts[0].get("pattern") or {}).get("Regex") == QWEN2_PATTERN
            and parts[1].get("type") == "ByteLevel"
            and not parts[1].get("use_regex", True)
        ):
            return "qwen2"
        if (
            len(parts) == 2
            and parts[0].get("type") == "Digits"
            and parts[0].get("individual_digits")
            and is_byte_level(parts[1])
        ):
            return "smollm"
    raise ConversionError(
        "unsupported pre-tokenizer in tokenizer.json (supported: ByteLevel as in GPT-2, "
        f"Digits+ByteLevel as in SmolLM, Qwen2's split): {json.dumps(pre)[:200]}"
    )


def _tokenizer_json(checkpoint: Checkpoint) -> dict[str, Any]:
    path = checkpoint.root / "tokenizer.json"
    if not path.is_file():
        raise ConversionError(
            f"{checkpoint.root}: no tokenizer.json and no SentencePiece tokenizer.model (copy the "
            "tokenizer files of the base model beside the weights)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    return data


def byte_level_pieces(checkpoint: Checkpoint) -> set[str] | None:
    """The token pieces of a byte-level BPE ``tokenizer.json`` (vocabulary and added tokens), or
    None for any other tokenizer."""
    try:
        data = _tokenizer_json(checkpoint)
    except ConversionError:
        return None
    model = data.get("model", {})
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(data.get("pre_tokenizer")):
        return None
    return set(model.get("vocab", {})) | {added["content"] for added in data.get("added_tokens", [])}


def read_bpe_vocab(checkpoint: Checkpoint, vocab_size: int) -> BpeVocab:
    data = _tokenizer_json(checkpoint)
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise ConversionError(f"tokenizer model {model.get('type')!r} is not BPE")
    pre = _pre_tokenizer_name(data.get("pre_tokenizer"))

    by_id: dict[int, tuple[str, float, int]] = {}
    for text, idx in model["vocab"].items():
        by_id[int(idx)] = (text, 0.0, int(gguf.TokenType.NORMAL))
    for added in data.get("added_tokens", []):
        text = added["content"]
        # As llama.cpp's converter does: added tokens spelled like markup count as control tokens.
        looks_special = text.startswith("<") and text.endswith(">") and len(text) > 2
        kind = int(
            gguf.TokenType.CONTROL if added.get("special") or looks_special else gguf.TokenType.USER_DEFINED
        )
        by_id[int(added["id"])] = (text, 0.0, kind)
    tokens, _, types = padded_table(by_id, vocab_size)  # byte-level BPE has no scores

    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    special_ids = special_token_ids(checkpoint.tokenizer_config, tokens)
    add_bos = bool(checkpoint.tokenizer_config.get("add_bos_token", False))
    return BpeVocab(tokens, types, merges, pre, special_ids, add_bos)


def padded_table(
    by_id: dict[int, tuple[str, float, int]], vocab_size: int
) -> tuple[list[str], list[float], list[int]]:
    """Token texts, scores and types by id, up to the config's vocabulary size; the ids no token
    has become ``[PADn]`` (unused), as llama.cpp's converter writes them."""
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    for idx in range(max(vocab_size, max(by_id) + 1)):
        text, score, type_id = by_id.get(idx, (f"[PAD{idx}]", -1e9, int(gguf.TokenType.UNUSED)))
        tokens.append(text)
        scores.append(score)
        types.append(type_id)
    return tokens, scores, types


def special_token_ids(
    tokenizer_config: dict[str, Any], tokens: list[str], defaults: dict[str, str] | None = None
) -> dict[str, int]:
    """The bos/eos/unk/pad ids the tokenizer config names (a string or an AddedToken dict)."""
    index = {text: idx for idx, text in enumerate(tokens)}
    special_ids: dict[str, int] = {}
    for role in ("bos", "eos", "unk", "pad"):
        value = tokenizer_config.get(f"{role}_token", (defaults or {}).get(role))
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str) and value in index:
            special_ids[role] = index[value]
    return special_ids


def _write_special_ids(writer: gguf.GGUFWriter, special_ids: dict[str, int], add_bos: bool) -> None:
    """The bos/eos/unk/pad ids a tokenizer names, and whether a BOS is prepended."""
    setters = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for role, token_id in special_ids.items():
        setters[role](token_id)
    writer.add_add_bos_token(add_bos)


def write_bpe_vocab(writer: gguf.GGUFWriter, vocab: BpeVocab, chat_template: str | None) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    writer.add_token_merges(vocab.merges)
    _write_special_ids(writer, vocab.special_ids, vocab.add_bos)
    if chat_template:
        writer.add_chat_template(chat_template)


# -- SentencePiece-style BPE (Llama / Vicuna) --------------------------------------------------
_BYTE_TOKEN = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


@dataclass
class SpmVocab:
    tokens: list[str]
    scores: list[float]
    types: list[int]
    special_ids: dict[str, int]
    add_bos: bool
    add_space_prefix: bool


def is_spm_style(data: dict[str, Any]) -> bool:
    """BPE with byte fallback and the ``▁`` word marker (as Llama's tokenizer.json has it)."""
    model = data.get("model") or {}
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        return False
    markers = json.dumps([data.get("pre_tokenizer"), data.get("normalizer")], ensure_ascii=False)
    return "\u2581" in markers


def _adds_space_prefix(data: dict[str, Any]) -> bool:
    pre = data.get("pre_tokenizer") or {}
    nodes = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    for node in nodes:
        if node.get("type") == "Metaspace":
            return node.get("prepend_scheme", "always") != "never" and node.get("add_prefix_space", True)
    norm = data.get("normalizer") or {}
    parts = norm.get("normalizers", [norm]) if norm.get("type") == "Sequence" else [norm]
    return any(part.get("type") == "Prepend" for part in parts)


def _adds_bos(data: dict[str, Any], tokenizer_config: dict[str, Any], bos: str | None) -> bool:
    if "add_bos_token" in tokenizer_config:
        return bool(tokenizer_config["add_bos_token"])
    post = data.get("post_processor") or {}
    single = post.get("single") if post.get("type") == "TemplateProcessing" else None
    if isinstance(single, list) and single:
        first = single[0].get("SpecialToken", {}).get("id")
        return first is not None and first == bos
    return True  # llama.cpp's default for this tokenizer family


def read_spm_vocab(checkpoint: Checkpoint, vocab_size: int) -> SpmVocab:
    data = _tokenizer_json(checkpoint)
    if not is_spm_style(data):
        raise ConversionError("tokenizer.json is not SentencePiece-style BPE (byte fallback and '\u2581')")
    model = data["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
    rank = {"".join(pair): i for i, pair in reversed(list(enumerate(merges)))}
    by_id: dict[int, tuple[str, float, int]] = {}
    for text, idx in model["vocab"].items():
        kind = gguf.TokenType.BYTE if _BYTE_TOKEN.match(text) else gguf.TokenType.NORMAL
        by_id[int(idx)] = (text, -float(rank[text]) if text in rank else 0.0, int(kind))
    unk = model.get("unk_token")
    for added in data.get("added_tokens", []):
        text = added["content"]
        if text == unk:
            added_kind = gguf.TokenType.UNKNOWN
        elif _BYTE_TOKEN.match(text):
            added_kind = gguf.TokenType.BYTE
        elif added.get("special"):
            added_kind = gguf.TokenType.CONTROL
        else:
            added_kind = gguf.TokenType.USER_DEFINED
        by_id[int(added["id"])] = (text, 0.0, int(added_kind))
    if unk in model["vocab"]:
        idx = int(model["vocab"][unk])
        by_id[idx] = (unk, 0.0, int(gguf.TokenType.UNKNOWN))
    tokens, scores, types = padded_table(by_id, vocab_size)
    special_ids = special_token_ids(checkpoint.tokenizer_config, tokens)
    if "unk" not in special_ids and isinstance(unk, str) and unk in tokens:
        special_ids["unk"] = tokens.index(unk)
    bos_text = tokens[special_ids["bos"]] if "bos" in special_ids else None
    add_bos = _adds_bos(data, checkpoint.tokenizer_config, bos_text)
    return SpmVocab(tokens, scores, types, special_ids, add_bos, _adds_space_prefix(data))


def write_spm_vocab(writer: gguf.GGUFWriter, vocab: SpmVocab, chat_template: str | None) -> None:
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    _write_special_ids(writer, vocab.special_ids, vocab.add_bos)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(vocab.add_space_prefix)
    if chat_template:
        writer.add_chat_template(chat_template)


def read_vocab(checkpoint: Checkpoint, vocab_size: int) -> BpeVocab | SpmVocab:
    """Whichever of the supported tokenizer families the checkpoint has: ``tokenizer.json``
    (byte-level or SentencePiece-style BPE), else a SentencePiece ``tokenizer.model``."""
    from conversion.vocab_spm import has_spm_only, read_sentencepiece_vocab

    if has_spm_only(checkpoint):
        return read_sentencepiece_vocab(checkpoint, vocab_size)
    if is_spm_style(_tokenizer_json(checkpoint)):
        return read_spm_vocab(checkpoint, vocab_size)
    return read_bpe_vocab(checkpoint, vocab_size)


def write_vocab(writer: gguf.GGUFWriter, vocab: BpeVocab | SpmVocab, chat_template: str | None) -> None:
    if isinstance(vocab, SpmVocab):
        write_spm_vocab(writer, vocab, chat_template)
    else:
        write_bpe_vocab(writer, vocab, chat_template)
