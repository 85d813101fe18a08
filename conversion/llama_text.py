"""The Llama-architecture text model inside a vision-language checkpoint -> GGUF ``llama``."""

from __future__ import annotations

from functools import partial
from typing import Any

import gguf
import numpy as np

from conversion.base import OUTTYPES, TensorPlan, add_profile, add_provenance, expect_shape, plan_tensor
from fakescope_cli.errors import ConversionError


def rope_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder Q/K rows from Hugging Face's rotate-half layout to llama.cpp's interleaved one."""
    rows = weight.shape[0]
    return (
        weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def add_llama_parameters(
    writer: gguf.GGUFWriter, text_config: dict[str, Any], ftype: int, mrope: bool = False
) -> None:
    """Hyperparameters of a Llama-family text model; ``mrope`` adds Qwen2-VL's rotary sections."""
    n_head = int(text_config["num_attention_heads"])
    hidden = int(text_config["hidden_size"])
    head_dim = int(text_config.get("head_dim") or hidden // n_head)
    rope = dict(text_config.get("rope_parameters") or text_config.get("rope_scaling") or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None) and not (mrope and rope_type == "mrope"):
        raise ConversionError(f"rope scaling {rope_type!r} is not supported yet")
    if mrope:
        sections = [int(v) for v in rope.get("mrope_section") or []]
        if not sections or 2 * sum(sections) != head_dim:
            raise ConversionError(f"mrope_section {sections} does not cover head_dim {head_dim}")
        writer.add_rope_dimension_sections((sections + [0, 0, 0, 0])[:4])
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


def _expected_shapes(text_config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """GGUF tensor name suffix -> the shape the config implies (Hugging Face row-major order)."""
    hidden = int(text_config["hidden_size"])
    n_head = int(text_config["num_attention_heads"])
    n_head_kv = int(text_config.get("num_key_value_heads") or n_head)
    head_dim = int(text_config.get("head_dim") or hidden // n_head)
    ffn = int(text_config["intermediate_size"])
    vocab = int(text_config["vocab_size"])
    return {
        "token_embd.weight": (vocab, hidden),
        "output.weight": (vocab, hidden),
        "output_norm.weight": (hidden,),
        "attn_norm.weight": (hidden,),
        "ffn_norm.weight": (hidden,),
        "attn_q.weight": (n_head * head_dim, hidden),
        "attn_k.weight": (n_head_kv * head_dim, hidden),
        "attn_v.weight": (n_head_kv * head_dim, hidden),
        "attn_output.weight": (hidden, n_head * head_dim),
        "ffn_gate.weight": (ffn, hidden),
        "ffn_up.weight": (ffn, hidden),
        "ffn_down.weight": (hidden, ffn),
        "attn_q.bias": (n_head * head_dim,),
        "attn_k.bias": (n_head_kv * head_dim,),
        "attn_v.bias": (n_head_kv * head_dim,),
    }


_LAYER_TENSORS = (
    "attn_norm",
    "ffn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
)


def llama_plan(
    shapes: dict[str, tuple[int, ...]],
    text_config: dict[str, Any],
    prefix: str,
    outtype: str,
    head_prefix: str = "lm_head.",
    arch: gguf.MODEL_ARCH = gguf.MODEL_ARCH.LLAMA,
) -> list[TensorPlan]:
    """Plan the text tensors found under ``prefix`` (e.g. ``model.text_model.``) and ``head_prefix``;
    every shape is checked against the config. For ``llama``, Q/K rows are permuted to llama.cpp's
    interleaved rotary layout; Qwen2 (NEOX-style rotary, Q/K/V biases) is written as is."""
    n_layers = int(text_config["num_hidden_layers"])
    n_head = int(text_config["num_attention_heads"])
    n_head_kv = int(text_config.get("num_key_value_heads") or n_head)
    names = gguf.get_tensor_name_map(arch, n_layers)
    expected = _expected_shapes(text_config)
    permute = arch == gguf.MODEL_ARCH.LLAMA
    plan: list[TensorPlan] = []
    for name, shape in shapes.items():
        if name.startswith(prefix):
            hf_name = "model." + name[len(prefix) :]
        elif name.startswith(head_prefix):
            hf_name = "lm_head." + name[len(head_prefix) :]
        else:
            continue
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        new_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ConversionError(f"no GGUF name for text tensor {name!r}")
        suffix = new_name.split(".", 2)[-1] if new_name.startswith("blk.") else new_name
        if suffix in expected:
            expect_shape(name, shape, expected[suffix], "text model")
        transform = None
        if permute and hf_name.endswith("self_attn.q_proj.weight"):
            transform = partial(rope_permute, n_head=n_head)
        elif permute and hf_name.endswith("self_attn.k_proj.weight"):
            transform = partial(rope_permute, n_head=n_head_kv)
        plan.append(plan_tensor(new_name, name, shape, outtype, transform=transform))
    written = {item.gguf_name for item in plan}
    required = {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{t}.weight" for i in range(n_layers) for t in _LAYER_TENSORS
    }
    missing = sorted(required - written)
    if missing:
        raise ConversionError(
            f"text model lacks {len(missing)} tensor(s) the config implies, e.g. {missing[0]!r} "
            f"(looked under {prefix!r}); config.json and the weights do not match"
        )
    return plan


def add_llama_text_metadata(exporter: Any, writer: gguf.GGUFWriter, mrope: bool = False) -> None:
    """Everything the text GGUF says besides its tensors: name, Llama parameters, vocabulary with
    chat template, profile and provenance. ``exporter`` is an ``ArchitectureExporter`` with a
    ``text_config``."""
    checkpoint, text_config = exporter.checkpoint, exporter.text_config
    writer.add_name(checkpoint.root.name)
    add_llama_parameters(writer, text_config, OUTTYPES[exporter.outtype], mrope=mrope)
    from conversion.vocab import read_vocab, write_vocab

    vocab = read_vocab(checkpoint, int(text_config["vocab_size"]))
    write_vocab(writer, vocab, checkpoint.chat_template())
    add_profile(writer, exporter.profile)
    add_provenance(writer, checkpoint, exporter.source_sha256)
