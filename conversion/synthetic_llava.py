"""Build random-init LLaVA-1.5 checkpoints (``llava-hf`` layout) with a Llama-style tokenizer.

CLIP vision tower, 2-layer MLP projector, Llama text model, and a SentencePiece-style BPE
tokenizer (byte fallback, ``▁`` word marker) trained on the spot. Nothing is downloaded; the
weights are random, so the model detects nothing: it exists for the converter's parity tests.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from conversion.synthetic import _WORDS, tiny_llama_config
from fakescope_cli.card import write_synthetic_card

# LLaVA-1.5 / Vicuna prompt format as llava-hf's processors render it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | upper }}: "
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>\n' }}{% endif %}{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] + ' ' }}{% endif %}"
    "{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
IMAGE_TOKEN = "<image>"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


@dataclass(frozen=True)
class TinyLlavaShape:
    vision_hidden: int = 32
    vision_ffn: int = 64  # differs from vision_hidden: libmtmd guesses swapped FFNs when equal
    vision_layers: int = 3  # the projector reads the second-to-last layer
    vision_heads: int = 2
    image_size: int = 32
    patch: int = 8
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_ffn: int = 128
    vocab_size: int = 600
    init_range: float = 0.2


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))) for _ in range(600)]
    lines += ["USER: Is this image real or fake? Answer with one word: real or fake. ASSISTANT: Real"] * 20
    lines += ["real fake Real Fake REAL FAKE"] * 20
    return lines


def train_spm_tokenizer(out_dir: Path, vocab_size: int, seed: int = 0):
    """A Llama-layout tokenizer as ``llava-hf`` checkpoints ship it: ids 0-2 <unk> <s> </s>, 256
    byte tokens, BPE merges trained within words, <image>; the "legacy" normalizer (prepend ``▁``,
    spaces to ``▁``) that SentencePiece conversions write, so every text segment starts a word."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="always", split=True
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 256, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False
    )
    trainer_tok.train_from_iterator(_corpus(seed), trainer=trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{i:02X}>": 3 + i for i in range(256)})
    for text, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(text, len(vocab))
    merges: list[tuple[str, str]] = []
    for merge in trained["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.append((left, right))
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    )
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(["<unk>", "<s>", "</s>", IMAGE_TOKEN])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def train_sentencepiece_model(out_dir: Path, vocab_size: int, seed: int = 0):
    """A real SentencePiece ``tokenizer.model`` trained as Llama's was (BPE, byte fallback, no
    normalization, spaces kept, digits split), with ``<image>`` added on top as llava-hf adds it;
    returned as transformers loads it from that file alone."""
    import io

    import sentencepiece as spm
    from transformers import AutoTokenizer

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus(seed)),
        model_writer=buffer,
        vocab_size=vocab_size - 1,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        split_digits=True,
        character_coverage=1.0,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (out_dir / "tokenizer.model").write_bytes(buffer.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=buffer.getvalue()).vocab_size()
    added = {"content": IMAGE_TOKEN, "special": True, "lstrip": False, "rstrip": False, "normalized": False}
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<unk>",
        "legacy": True,
        "added_tokens_decoder": {str(pieces): {**added, "single_word": False}},
        "chat_template": CHAT_TEMPLATE,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return AutoTokenizer.from_pretrained(out_dir)


SPM_ONLY_FILES = ("tokenizer.json",)  # what a SentencePiece-only checkpoint lacks


def build_tiny_llava(
    out_dir: Path, shape: TinyLlavaShape = TinyLlavaShape(), seed: int = 0, sentencepiece_only: bool = False
) -> Path:
    """Write a random-init ``LlavaForConditionalGeneration`` checkpoint into ``out_dir``; with
    ``sentencepiece_only`` its tokenizer is a SentencePiece ``tokenizer.model`` and no
    ``tokenizer.json``, as older LLaVA and Llama checkpoints ship it."""
    import torch
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    out_dir.mkdir(parents=True, exist_ok=True)
    if sentencepiece_only:
        tokenizer = train_sentencepiece_model(out_dir, shape.vocab_size, seed)
        spm_config = (out_dir / "tokenizer_config.json").read_text()
    else:
        tokenizer = train_spm_tokenizer(out_dir, shape.vocab_size, seed)
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": shape.vision_hidden,
            "intermediate_size": shape.vision_ffn,
            "num_hidden_layers": shape.vision_layers,
            "num_attention_heads": shape.vision_heads,
            "image_size": shape.image_size,
            "patch_size": shape.patch,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5,
            "projection_dim": shape.text_hidden,
            "initializer_range": shape.init_range,
        },
        text_config=tiny_llama_config(shape, tokenizer, len(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        projector_hidden_act="gelu",
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        image_seq_length=(shape.image_size // shape.patch) ** 2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed + 1)
        for param in model.parameters():
            if param.ndim == 1:  # norms at one and biases at zero would hide a dropped tensor
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
        # CLIP's random init leaves the class and position embeddings tiny; make them matter.
        vision = model.model.vision_tower.embeddings
        vision.class_embedding.normal_(0.0, 0.5, generator=gen)
        vision.position_embedding.weight.normal_(0.0, 0.5, generator=gen)
    model.save_pretrained(out_dir, safe_serialization=True)

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": shape.image_size},
        crop_size={"height": shape.image_size, "width": shape.image_size},
        do_center_crop=True,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=shape.patch,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(out_dir)
    if sentencepiece_only:  # keep the files as a SentencePiece-era checkpoint has them
        for name in SPM_ONLY_FILES:
            (out_dir / name).unlink(missing_ok=True)
        (out_dir / "tokenizer_config.json").write_text(spm_config)
    write_synthetic_card(out_dir)
    (out_dir / "TINY_RANDOM_MODEL.txt").write_text(
        json.dumps({"warning": "random weights; for tests only", "seed": seed})
    )
    return out_dir
