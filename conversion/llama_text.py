"""The Llama-architecture text model inside a vision-language checkpoint -> GGUF ``llama``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gguf
import numpy as np

from conversion.base import store_as
from fakescope_cli.errors import ConversionError


def rope_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder Q/K rows from Hugging Face's rotate-half layout to llama.cpp's interleaved one."""
    rows = weight.shape[0]
    return (
        weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def add_llama_parameters(writer: gguf.GGUFWriter, text_config: dict[str, Any], ftype: int) -> None:
    n_head = int(text_config["num_attention_heads"])
    hidden = int(text_config["hidden_size"])
    head_dim = int(text_config.get("head_dim") or hidden // n_head)
    rope = text_config.get("rope_parameters") or {}
    if rope.get("rope_type", "default") not in ("default", None):
        raise ConversionError(f"rope scaling {rope.get('rope_type')!r} is not supported yet")
    writer.add_context_length(int(text_config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(int(text_config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(text_config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(int(text_config.get("num_key_value_heads", n_head)))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(text_config.get("rms_norm_eps", 1e-5)))
    writer.add_rope_freq_base(float(rope.get("rope_theta", text_config.get("rope_theta", 10000.0))))
    writer.add_vocab_size(int(text_config["vocab_size"]))
    writer.add_file_type(ftype)


def llama_tensors(
    tensors: Iterator[tuple[str, np.ndarray]],
    text_config: dict[str, Any],
    prefix: str,
    outtype: str,
) -> Iterator[tuple[str, np.ndarray]]:
    """Rename (and permute) the text tensors found under ``prefix`` (e.g. ``model.text_model.``)."""
    n_layers = int(text_config["num_hidden_layers"])
    n_head = int(text_config["num_attention_heads"])
    n_head_kv = int(text_config.get("num_key_value_heads", n_head))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    written: set[str] = set()
    for name, array in tensors:
        if name.startswith(prefix):
            hf_name = "model." + name[len(prefix) :]
        elif name.startswith("lm_head."):
            hf_name = name
        else:
            continue
        new_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ConversionError(f"no GGUF name for text tensor {name!r}")
        if hf_name.endswith("self_attn.q_proj.weight"):
            array = rope_permute(array, n_head)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            array = rope_permute(array, n_head_kv)
        written.add(new_name)
        yield new_name, store_as(array, outtype)
    if "token_embd.weight" not in written:
        # Without lm_head llama.cpp reuses the embeddings as output; without both nothing works.
        raise ConversionError("text model has no token embeddings")
