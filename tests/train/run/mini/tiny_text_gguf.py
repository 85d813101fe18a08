"""A tiny SmolLM2-like text GGUF built in the test session: a random ``LlamaForCausalLM`` (tied
embeddings, grouped-query attention) with the byte-level BPE that conversion/synthetic.py trains,
written in llama.cpp's layout (Q/K rows permuted, vocabulary as ``tokenizer.ggml.*`` keys) and
quantized to Q8_0 by llama.cpp's own quantizer, as the real SmolLM2 file was to Q4_1."""

from __future__ import annotations

from pathlib import Path

import gguf

from conversion.base import write_gguf
from conversion.checkpoint import Checkpoint
from conversion.llama_text import add_llama_parameters, llama_plan
from conversion.quantize import quantize_text_gguf
from conversion.synthetic import train_bpe
from conversion.vocab import read_bpe_vocab, write_bpe_vocab

SMOLLM2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_llama(folder: Path, seed: int = 0):
    """Save a random tiny Llama and its tokenizer (no Idefics3 tokens) into ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(400, SMOLLM2_SPECIALS, seed),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # norms away from one, so a dropped norm shows
        for param in model.parameters():
            if param.ndim == 1:
                param.add_(0.1 * torch.randn(param.shape))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return tokenizer, model


def write_text_gguf(folder: Path, target: Path) -> Path:
    """The Llama in ``folder`` as a Q8_0 llama GGUF with pre-tokenizer ``smollm``."""
    checkpoint = Checkpoint.open(folder)
    config = checkpoint.config
    scratch = target.with_name(target.name + ".f32")
    writer = gguf.GGUFWriter(scratch, arch="llama")
    writer.add_name("tiny-smollm2")
    add_llama_parameters(writer, config, gguf.LlamaFileType.ALL_F32)
    vocab = read_bpe_vocab(checkpoint, int(config["vocab_size"]))
    assert vocab.pre == "smollm"
    write_bpe_vocab(writer, vocab, None)
    write_gguf(writer, llama_plan(checkpoint.tensor_shapes(), config, "model.", "f32"), checkpoint)
    quantize_text_gguf(scratch, target, "q8_0")
    scratch.unlink()
    return target
