"""SentencePiece-only checkpoints: ``tokenizer.model`` (no ``tokenizer.json``) -> GGUF ``llama`` vocabulary.

Older LLaVA and Llama checkpoints ship only the SentencePiece model file. It is a protocol buffer
(``sentencepiece_model.proto``); the few fields the GGUF needs are read here directly, so export
needs neither the ``sentencepiece`` nor the ``protobuf`` package:

- ``ModelProto.pieces`` (1): each ``piece`` (1), ``score`` (2) and ``type`` (3);
- ``ModelProto.trainer_spec`` (2): ``model_type`` (3; 2 is BPE);
- ``ModelProto.normalizer_spec`` (3): ``name`` (1), ``add_dummy_prefix`` (3),
  ``remove_extra_whitespaces`` (4).

llama.cpp's SentencePiece tokenizer merges the adjacent pair whose joined piece has the highest
score, which is what a BPE SentencePiece model does; it applies no normalization rule and keeps
runs of spaces. Models that need either (unigram models, NFKC normalizers, whitespace folding)
are refused with the reason, since their tokens would not match what the model was trained on.
Tokens added on top (``<image>`` in LLaVA) come from ``added_tokens.json`` and
``tokenizer_config.json``'s ``added_tokens_decoder``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import gguf

from conversion.checkpoint import Checkpoint
from fakescope_cli.errors import ConversionError

SPM_FILE = "tokenizer.model"
_MAX_BYTES = 64 << 20
# sentencepiece's SentencePiece.Type -> GGUF token type
_TYPES = {
    1: gguf.TokenType.NORMAL,
    2: gguf.TokenType.UNKNOWN,
    3: gguf.TokenType.CONTROL,
    4: gguf.TokenType.USER_DEFINED,
    5: gguf.TokenType.UNUSED,
    6: gguf.TokenType.BYTE,
}
_BPE = 2
SENTENCEPIECE_DEFAULTS = {"bos": "<s>", "eos": "</s>", "unk": "<unk>"}  # Llama's, when the config is silent


@dataclass
class SpmModel:
    pieces: list[tuple[str, float, int]]  # (piece, score, GGUF token type)
    model_type: int = 1  # UNIGRAM unless the trainer spec says otherwise (the proto's default)
    normalizer: str = "nmt_nfkc"
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    charsmap: bool = False  # a precompiled normalization map is present


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message; bytes values are left unparsed."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        out.append((number, wire, value))
    return out


def parse_spm_model(data: bytes) -> SpmModel:
    """The fields of a serialized ``ModelProto`` that the GGUF vocabulary needs."""
    model = SpmModel(pieces=[])
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2:
            piece, score, kind = "", 0.0, 1
            for sub, sub_wire, sub_value in _fields(value):
                if sub == 1 and sub_wire == 2:
                    piece = sub_value.decode("utf-8")
                elif sub == 2 and sub_wire == 5:
                    score = struct.unpack("<f", sub_value)[0]
                elif sub == 3 and sub_wire == 0:
                    kind = sub_value
            model.pieces.append((piece, score, int(_TYPES.get(kind, gguf.TokenType.NORMAL))))
        elif number == 2 and wire == 2:
            for sub, sub_wire, sub_value in _fields(value):
                if sub == 3 and sub_wire == 0:
                    model.model_type = sub_value
        elif number == 3 and wire == 2:
            for sub, sub_wire, sub_value in _fields(value):
                if sub == 1 and sub_wire == 2:
                    model.normalizer = sub_value.decode("utf-8", "replace")
                elif sub == 2 and sub_wire == 2:
                    model.charsmap = len(sub_value) > 0
                elif sub == 3 and sub_wire == 0:
                    model.add_dummy_prefix = bool(sub_value)
                elif sub == 4 and sub_wire == 0:
                    model.remove_extra_whitespaces = bool(sub_value)
    if not model.pieces:
        raise ValueError("no pieces")
    return model


def has_spm_only(checkpoint: Checkpoint) -> bool:
    return (checkpoint.root / SPM_FILE).is_file() and not (checkpoint.root / "tokenizer.json").is_file()


def _read_model(checkpoint: Checkpoint) -> SpmModel:
    path = checkpoint.root / SPM_FILE
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ConversionError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > _MAX_BYTES:
        raise ConversionError(f"{path}: larger than {_MAX_BYTES >> 20} MiB; not a SentencePiece model")
    try:
        model = parse_spm_model(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: not a SentencePiece model ({exc})") from None
    problems = []
    if model.model_type != _BPE:
        problems.append("it is not a BPE model (Llama's is)")
    if model.normalizer not in ("identity", ""):
        problems.append(f"it normalizes text with {model.normalizer!r}, which llama.cpp does not apply")
    elif model.charsmap:
        problems.append("it carries a character normalization map, which llama.cpp does not apply")
    if model.remove_extra_whitespaces:
        problems.append("it folds runs of spaces, which llama.cpp does not")
    if problems:
        raise ConversionError(
            f"{path}: this SentencePiece model cannot be reproduced by llama.cpp's tokenizer: "
            + "; ".join(problems)
        )
    return model


def _added_tokens(checkpoint: Checkpoint) -> dict[int, tuple[str, bool]]:
    """id -> (text, special) for tokens added on top of the SentencePiece model."""
    added: dict[int, tuple[str, bool]] = {}
    path = checkpoint.root / "added_tokens.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConversionError(f"{path}: cannot read ({exc})") from None
        if isinstance(data, dict):
            for text, idx in data.items():
                if isinstance(text, str) and isinstance(idx, int):
                    added[idx] = (text, True)
    decoder = checkpoint.tokenizer_config.get("added_tokens_decoder") or {}
    if isinstance(decoder, dict):
        for key, item in decoder.items():
            if isinstance(item, dict) and isinstance(item.get("content"), str) and str(key).isdigit():
                added[int(key)] = (item["content"], bool(item.get("special", True)))
    return added


def read_sentencepiece_vocab(checkpoint: Checkpoint, vocab_size: int):
    """The checkpoint's ``tokenizer.model`` (plus added tokens) as an :class:`SpmVocab`."""
    from conversion.vocab import SpmVocab, padded_table, special_token_ids

    model = _read_model(checkpoint)
    by_id: dict[int, tuple[str, float, int]] = dict(enumerate(model.pieces))
    limit = max(vocab_size, len(model.pieces))
    for idx, (text, special) in _added_tokens(checkpoint).items():
        if not 0 <= idx < limit:
            raise ConversionError(
                f"{checkpoint.root}: added token {text!r} claims id {idx}, outside the vocabulary of {limit}"
            )
        if idx < len(model.pieces):
            if model.pieces[idx][0] != text:
                raise ConversionError(
                    f"{checkpoint.root}: added token {text!r} claims id {idx}, which the SentencePiece "
                    f"model gives to {model.pieces[idx][0]!r}"
                )
            continue
        added = gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED
        by_id[idx] = (text, 0.0, int(added))
    tokens, scores, types = padded_table(by_id, vocab_size)
    special_ids = special_token_ids(checkpoint.tokenizer_config, tokens, SENTENCEPIECE_DEFAULTS)
    if "unk" not in special_ids:
        unknown = [i for i, kind in enumerate(types) if kind == int(gguf.TokenType.UNKNOWN)]
        if unknown:
            special_ids["unk"] = unknown[0]
    add_bos = bool(checkpoint.tokenizer_config.get("add_bos_token", True))
    return SpmVocab(tokens, scores, types, special_ids, add_bos, model.add_dummy_prefix)
