"""Build random-init Idefics3 checkpoints, with a tokenizer trained on the spot.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on a few generated
sentences, the weights are random. The result is a real Hugging Face checkpoint folder
that our converter exports and llama.cpp loads. Such a model detects nothing: it exists for
tests (tiny shape) and the benchmark (SmolVLM-256M shape), and is marked as random in its folder.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.card import write_synthetic_card

# SmolVLM's chat format: "<|im_start|>User:<image>question<end_of_utterance>\nAssistant:"
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}"
    "{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}"
    "{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<global-img>",
    "<image>",
] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]

_WORDS = " ".join(
    [
        "the image shows a photo of real scene light shadow texture edge face hand text sky tree",
        "water building street car dog cat person window color noise blur sharp smooth pattern",
        "is this or answer with one word explain your judgment by describing visual trace",
        "evidence you see camera lens generated model diffusion artifact",
    ]
).split()


@dataclass(frozen=True)
class TinyShape:
    """Sizes of the tiny model; defaults give a few hundred thousand parameters."""

    vision_hidden: int = 32
    vision_layers: int = 2
    vision_heads: int = 2
    tile: int = 32
    patch: int = 8
    longest_edge: int = 64
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_ffn: int = 128
    vision_ffn: int = 64
    scale_factor: int = 2
    vocab_size: int = 420  # tokens the trained tokenizer gets
    padded_vocab: int = 0  # embedding rows in the model (0: the tokenizer's size)
    init_range: float = 0.2


# The shape of SmolVLM-256M: SigLIP-base-like vision (12 layers, 768 wide) on 512 px tiles,
# pixel shuffle by 4 (64 tokens a tile), and a 30-layer, 576-wide Llama text model.
SMOLVLM_256M_SHAPE = TinyShape(
    vision_hidden=768,
    vision_layers=12,
    vision_heads=12,
    vision_ffn=3072,
    tile=512,
    patch=16,
    longest_edge=2048,
    text_hidden=576,
    text_layers=30,
    text_heads=9,
    text_kv_heads=3,
    text_ffn=1536,
    scale_factor=4,
    vocab_size=420,
    padded_vocab=49152,
    init_range=0.02,
)


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(600):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 12))]
        lines.append(" ".join(words))
    # Whitespace runs libmtmd looks up by exact text: "\n" and "\n\n" must be single tokens.
    lines += ["row one\nrow two\n\nnext block"] * 50 + ["\n\n"] * 400 + ["real fake Real Fake"] * 20
    lines += ["User: Is this image real or fake? Answer with one word: real or fake.\nAssistant: real"] * 20
    return lines


def train_bpe(
    vocab_size: int,
    special_tokens: list[str],
    seed: int = 0,
    split: Any = None,
    corpus: list[str] | None = None,
):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``corpus`` (default: this module's).
    ``split`` is the pre-tokenizer that runs before the byte-level step (default: SmolLM's
    one-digit split, with GPT-2's word regex in the byte-level step)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    first = split if split is not None else pre_tokenizers.Digits(individual_digits=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [first, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split is None)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus if corpus is not None else _corpus(seed), trainer=trainer)
    return tok


def train_tokenizer(out_dir: Path, shape: TinyShape, seed: int = 0):
    """Train and save a byte-level BPE tokenizer (SmolLM-style pre-tokenizer)."""
    from transformers import PreTrainedTokenizerFast

    tok = train_bpe(shape.vocab_size, SPECIAL_TOKENS, seed)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def tiny_llama_config(shape: Any, tokenizer: Any, vocab_size: int) -> dict[str, Any]:
    """The Llama text config of a tiny test model; ``shape`` has the ``text_*`` sizes."""
    return {
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": shape.text_hidden,
        "intermediate_size": shape.text_ffn,
        "num_hidden_layers": shape.text_layers,
        "num_attention_heads": shape.text_heads,
        "num_key_value_heads": shape.text_kv_heads,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "initializer_range": shape.init_range,
        "tie_word_embeddings": False,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def build_tiny_idefics3(out_dir: Path, shape: TinyShape = TinyShape(), seed: int = 0) -> Path:
    """Write a random-init Idefics3ForConditionalGeneration checkpoint into ``out_dir``."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(out_dir, shape, seed)
    image_seq_len = (shape.tile // shape.patch) ** 2 // shape.scale_factor**2
    config = Idefics3Config(
        vision_config={
            "hidden_size": shape.vision_hidden,
            "intermediate_size": shape.vision_ffn,
            "num_hidden_layers": shape.vision_layers,
            "num_attention_heads": shape.vision_heads,
            "image_size": shape.tile,
            "patch_size": shape.patch,
            "initializer_range": shape.init_range,
        },
        text_config=tiny_llama_config(shape, tokenizer, max(len(tokenizer), shape.padded_vocab)),
        scale_factor=shape.scale_factor,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config).eval()
    # Random init leaves norms at one and biases at zero; perturb them so a converter
    # that drops or mislabels one of them is caught by the parity tests.
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed + 1)
        for param in model.parameters():
            if param.ndim == 1:
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
    model.save_pretrained(out_dir, safe_serialization=True)

    image_processor = Idefics3ImageProcessor(
        do_resize=True,
        size={"longest_edge": shape.longest_edge},
        max_image_size={"longest_edge": shape.tile},
        do_image_splitting=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=image_seq_len,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out_dir)
    write_synthetic_card(out_dir)
    (out_dir / "TINY_RANDOM_MODEL.txt").write_text(
        json.dumps({"warning": "random weights; for tests only", "seed": seed})
    )
    return out_dir
