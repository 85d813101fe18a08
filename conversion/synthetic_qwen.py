"""Build random-init Qwen2.5-VL checkpoints with a Qwen2-style byte-level BPE tokenizer.

Nothing is downloaded: the tokenizer is trained on the spot with Qwen2's pre-tokenizer regex and
special tokens, the weights are random. For the converter's parity tests only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from conversion.synthetic import _WORDS, train_bpe
from conversion.synthetic_llava import CLIP_MEAN, CLIP_STD
from conversion.vocab import QWEN2_PATTERN
from fakescope_cli.card import write_synthetic_card

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinyQwenShape:
    vision_hidden: int = 32
    vision_ffn: int = 48
    vision_layers: int = 4
    vision_heads: int = 2
    fullatt_blocks: tuple[int, ...] = (1, 3)  # window attention elsewhere
    patch: int = 14
    window: int = 112  # what libmtmd assumes for Qwen2.5-VL (8 patches, 4 merged tokens a side)
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_ffn: int = 128
    mrope_section: tuple[int, ...] = (2, 3, 3)  # sums to head_dim / 2
    vocab_size: int = 600
    init_range: float = 0.2


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))) for _ in range(600)]
    lines += ["Is this image real or fake? Answer with one word: real or fake.\nassistant\nreal"] * 20
    lines += ["real fake Real Fake REAL FAKE"] * 20
    return lines


def train_qwen_tokenizer(out_dir: Path, vocab_size: int, seed: int = 0):
    from tokenizers import Regex, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    split = pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False)
    tok = train_bpe(vocab_size, SPECIAL_TOKENS, seed, split=split, corpus=_corpus(seed))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def build_tiny_qwen25vl(out_dir: Path, shape: TinyQwenShape = TinyQwenShape(), seed: int = 0) -> Path:
    """Write a random-init ``Qwen2_5_VLForConditionalGeneration`` checkpoint into ``out_dir``."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessor,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_qwen_tokenizer(out_dir, shape.vocab_size, seed)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    head_dim = shape.text_hidden // shape.text_heads
    assert 2 * sum(shape.mrope_section) == head_dim
    config = Qwen2_5_VLConfig(
        vision_config={
            "depth": shape.vision_layers,
            "hidden_size": shape.vision_hidden,
            "intermediate_size": shape.vision_ffn,
            "num_heads": shape.vision_heads,
            "patch_size": shape.patch,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": shape.window,
            "out_hidden_size": shape.text_hidden,
            "fullatt_block_indexes": list(shape.fullatt_blocks),
            "initializer_range": shape.init_range,
        },
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shape.text_hidden,
            "intermediate_size": shape.text_ffn,
            "num_hidden_layers": shape.text_layers,
            "num_attention_heads": shape.text_heads,
            "num_key_value_heads": shape.text_kv_heads,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-6,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": list(shape.mrope_section),
            },
            "initializer_range": shape.init_range,
            "tie_word_embeddings": False,
            "bos_token_id": None,
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed + 1)
        for param in model.parameters():
            if param.ndim == 1:
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
    model.save_pretrained(out_dir, safe_serialization=True)
    image_processor = Qwen2VLImageProcessor(
        min_pixels=8 * 28 * 28,
        max_pixels=1024 * 28 * 28,
        patch_size=shape.patch,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    )
    # The processor class also wants a video processor (torchvision); the image processor's own
    # file is what the converter and the tests read.
    image_processor.save_pretrained(out_dir)
    write_synthetic_card(out_dir)
    (out_dir / "TINY_RANDOM_MODEL.txt").write_text(
        json.dumps({"warning": "random weights; for tests only", "seed": seed})
    )
    return out_dir
