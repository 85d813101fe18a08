"""SentencePiece-only checkpoints (``tokenizer.model``, no ``tokenizer.json``): the vocabulary is
read from the model file and llama.cpp must then split text exactly as SentencePiece and
transformers do; models llama.cpp's tokenizer cannot reproduce are refused with the reason."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest

from conversion.synthetic import _WORDS
from conversion.vocab_spm import parse_spm_model
from fakescope_cli.errors import ConversionError

pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def spm_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conversion.synthetic_llava import build_tiny_llava

    folder = build_tiny_llava(tmp_path_factory.mktemp("spm") / "tiny-llava-spm", sentencepiece_only=True)
    assert (folder / "tokenizer.model").is_file() and not (folder / "tokenizer.json").exists()
    return folder


@pytest.fixture(scope="module")
def spm_gguf(spm_llava: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conversion.export import export_checkpoint

    return export_checkpoint(spm_llava, tmp_path_factory.mktemp("spm-gguf"), name="s", quant="f32").text


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    pieces = [*_WORDS, "Fake", "REAL", ",", ".", "?", "  ", "\n", "\t", "é", "日本", "🙂", "x1", "42", "   a"]
    return [
        "".join(rng.choice([" ", ""]) + rng.choice(pieces) for _ in range(rng.randint(1, 15)))
        for _ in range(n)
    ]


def test_tokenization_matches_sentencepiece_and_transformers(spm_llava: Path, spm_gguf: Path) -> None:
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    llama = Llama(str(spm_gguf), vocab_only=True, verbose=False)
    reference = spm.SentencePieceProcessor(model_file=str(spm_llava / "tokenizer.model"))
    hf = AutoTokenizer.from_pretrained(spm_llava)
    for text in _texts(5, 300):
        ours = llama.tokenize(text.encode(), add_bos=False, special=False)
        assert ours == reference.encode(text), repr(text)
        assert ours == hf(text, add_special_tokens=False)["input_ids"], repr(text)
    prompt = "USER: <image>\nDoes the image looks real/fake? ASSISTANT: This is a"
    assert llama.tokenize(prompt.encode(), add_bos=True, special=True) == hf(prompt)["input_ids"]


def test_the_model_file_is_read_without_protobuf(spm_llava: Path) -> None:
    model = parse_spm_model((spm_llava / "tokenizer.model").read_bytes())
    reference = spm.SentencePieceProcessor(model_file=str(spm_llava / "tokenizer.model"))
    assert len(model.pieces) == reference.vocab_size()
    for idx in (0, 1, 2, 3, 200, len(model.pieces) - 1):
        piece, score, _ = model.pieces[idx]
        assert piece == reference.id_to_piece(idx)
        assert score == pytest.approx(reference.get_score(idx))
    assert (model.model_type, model.normalizer, model.add_dummy_prefix) == (2, "identity", True)
    assert not model.remove_extra_whitespaces and not model.charsmap
    import gguf

    kinds = [kind for _, _, kind in model.pieces]
    assert kinds[:4] == [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.BYTE,
    ]
    assert kinds.count(gguf.TokenType.BYTE) == 256


def test_an_added_token_outside_the_vocabulary_is_refused(spm_llava: Path, tmp_path: Path) -> None:
    """A hostile id (10**12) would otherwise pad the table up to it."""
    from conversion.export import export_checkpoint

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(spm_llava, checkpoint)
    (checkpoint / "added_tokens.json").write_text('{"<evil>": 1000000000000}')
    with pytest.raises(ConversionError, match="outside the vocabulary"):
        export_checkpoint(checkpoint, tmp_path / "out", name="x", quant="f32")


def _retrained(folder: Path, tmp_path: Path, **options: object) -> Path:
    """The checkpoint with its tokenizer.model retrained with ``options`` (same size)."""
    target = tmp_path / "ckpt"
    shutil.copytree(folder, target)
    buffer = io.BytesIO()
    size = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).vocab_size()
    settings = {
        "model_type": "bpe",
        "byte_fallback": True,
        "normalization_rule_name": "identity",
        "remove_extra_whitespaces": False,
        "vocab_size": size,
        "hard_vocab_limit": False,
        "minloglevel": 2,
        **options,
    }
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_texts(1, 400) * 3), model_writer=buffer, **settings
    )
    (target / "tokenizer.model").write_bytes(buffer.getvalue())
    return target


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"model_type": "unigram"}, "not a BPE model"),
        ({"normalization_rule_name": "nmt_nfkc"}, "normalizes text with 'nmt_nfkc'"),
        ({"remove_extra_whitespaces": True}, "folds runs of spaces"),
    ],
)
def test_models_llama_cpp_cannot_reproduce_are_refused(
    spm_llava: Path, tmp_path: Path, options: dict[str, object], reason: str
) -> None:
    from conversion.export import export_checkpoint

    checkpoint = _retrained(spm_llava, tmp_path, **options)
    with pytest.raises(ConversionError, match=reason):
        export_checkpoint(checkpoint, tmp_path / "out", name="x", quant="f32")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_damaged_model_file_is_one_clear_error(spm_llava: Path, tmp_path: Path) -> None:
    from conversion.export import export_checkpoint

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(spm_llava, checkpoint)
    (checkpoint / "tokenizer.model").write_bytes((spm_llava / "tokenizer.model").read_bytes()[:999])
    with pytest.raises(ConversionError, match="not a SentencePiece model"):
        export_checkpoint(checkpoint, tmp_path / "out", name="x", quant="f32")
