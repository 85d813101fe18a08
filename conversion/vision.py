"""Shape checks shared by the ViT-style vision towers (SigLIP, CLIP) in ``clip.vision`` GGUFs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from conversion.base import TensorPlan, expect_shape
from fakescope_cli.errors import ConversionError

_LAYER_WEIGHTS = ("attn_q", "attn_k", "attn_v", "attn_out", "ffn_up", "ffn_down", "ln1", "ln2")


def vision_tower_shapes(vision: dict[str, Any], n_positions: int | None = None) -> dict[str, tuple[int, ...]]:
    """GGUF name (``blk.N.`` stripped) -> the shape the vision config implies."""
    hidden = int(vision["hidden_size"])
    ffn = int(vision["intermediate_size"])
    patch = int(vision["patch_size"])
    channels = int(vision.get("num_channels", 3))
    if n_positions is None:
        n_positions = (int(vision["image_size"]) // patch) ** 2
    shapes: dict[str, tuple[int, ...]] = {
        "v.patch_embd.weight": (hidden, channels, patch, patch),
        "v.position_embd.weight": (n_positions, hidden),
        "v.class_embd": (hidden,),
        "ffn_up.weight": (ffn, hidden),
        "ffn_up.bias": (ffn,),
        "ffn_down.weight": (hidden, ffn),
    }
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        shapes[f"{name}.weight"] = (hidden, hidden)
    for name in ("attn_q", "attn_k", "attn_v", "attn_out", "ffn_down", "ln1", "ln2"):
        shapes[f"{name}.bias"] = (hidden,)
    for name in ("ln1", "ln2"):
        shapes[f"{name}.weight"] = (hidden,)
    for name in ("v.pre_ln", "v.post_ln"):
        shapes[f"{name}.weight"] = (hidden,)
        shapes[f"{name}.bias"] = (hidden,)
    return shapes


def check_vision_shape(
    source: str, gguf_name: str, shape: Sequence[int], expected: dict[str, tuple[int, ...]]
) -> None:
    key = gguf_name.split(".", 3)[-1] if gguf_name.startswith("v.blk.") else gguf_name
    if key in expected:
        expect_shape(source, shape, expected[key], "vision tower")


def require_vision_tensors(plan: Iterable[TensorPlan], n_layers: int, extra: Sequence[str]) -> None:
    """Every layer the config declares, and the named extra tensors, must be in the checkpoint."""
    written = {item.gguf_name for item in plan}
    required = set(extra) | {f"v.blk.{i}.{t}.weight" for i in range(n_layers) for t in _LAYER_WEIGHTS}
    missing = sorted(required - written)
    if missing:
        raise ConversionError(
            f"vision tower lacks {len(missing)} tensor(s) the config implies, e.g. {missing[0]!r}; "
            "config.json and the weights do not match"
        )
