"""Qwen2.5-VL: windowed ViT with 2-D rotary positions + patch merger, Qwen2 text with M-RoPE.

Facts libmtmd and llama.cpp expect (read from ``tools/mtmd/clip.cpp``, ``models/qwen2vl.cpp`` and
``src/llama-model.cpp``): text architecture ``qwen2vl`` with ``rope.dimension_sections`` (the
config's ``mrope_section``) and NEOX-style rotary, so Q/K are written unpermuted, with their
biases; projector type ``qwen2.5vl_merger`` with SiLU-gated MLPs (``clip.use_silu``) and RMS norms;
the 3-D patch convolution split into its two temporal slices ``v.patch_embd.weight`` and
``v.patch_embd.weight.1``; fused ``qkv`` split into ``attn_q/k/v``; the merger's norm as
``v.post_ln`` and its MLP as ``mm.0``/``mm.2``; ``clip.vision.n_wa_pattern`` = the spacing of the
full-attention blocks. libmtmd fixes the attention window at 112 pixels and keeps images between
8 and 4096 merged tokens, whatever the processor config says; the converter refuses a different
window and the README states the token limits.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gguf
import numpy as np

from conversion.base import (
    OUTTYPES,
    ArchitectureExporter,
    TensorPlan,
    add_provenance,
    plan_tensor,
)
from conversion.llama_text import add_llama_text_metadata, llama_plan
from conversion.vision import check_vision_shape
from fakescope_cli.errors import ConversionError
from fakescope_cli.profile import DEFAULT_PROFILE

IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
TEXT_LAYOUTS = (("model.language_model.", "lm_head."), ("model.", "lm_head."))
VISION_PREFIXES = ("model.visual.", "visual.")
LIBMTMD_WINDOW = 112
_BLOCK_NAMES = {
    "attn.proj": "attn_out",
    "norm1": "ln1",
    "norm2": "ln2",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _rows(part: int) -> Any:
    def take(array: np.ndarray) -> np.ndarray:
        third = array.shape[0] // 3
        return array[part * third : (part + 1) * third]

    return take


def _frame(index: int) -> Any:
    def take(array: np.ndarray) -> np.ndarray:
        return array[:, :, index]

    return take


class Qwen25VLExporter(ArchitectureExporter):
    text_arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2VL]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.profile.image_placeholder == DEFAULT_PROFILE.image_placeholder:
            # What Qwen's chat template emits for an image; libmtmd adds the vision start/end itself.
            self.profile = replace(self.profile, image_placeholder=IMAGE_PLACEHOLDER)

    @property
    def text_config(self) -> dict[str, Any]:
        config = dict(self.checkpoint.config.get("text_config") or self.checkpoint.config)
        return config

    @property
    def vision_config(self) -> dict[str, Any]:
        config = dict(self.checkpoint.config.get("vision_config") or {})
        if not config:
            raise ConversionError("config.json has no vision_config")
        window = int(config.get("window_size", LIBMTMD_WINDOW))
        if window != LIBMTMD_WINDOW:
            raise ConversionError(f"vision window_size {window}: libmtmd supports only {LIBMTMD_WINDOW}")
        if int(config.get("temporal_patch_size", 2)) != 2 or int(config.get("spatial_merge_size", 2)) != 2:
            raise ConversionError("libmtmd supports temporal_patch_size 2 and spatial_merge_size 2 only")
        return config

    # -- text ---------------------------------------------------------------------------------
    def text_plan(self) -> list[TensorPlan]:
        names = self.checkpoint.tensor_shapes()
        for prefix, head in TEXT_LAYOUTS:
            if any(name.startswith(prefix + "layers.") for name in names):
                return llama_plan(
                    names, self.text_config, prefix, self.outtype, head, gguf.MODEL_ARCH.QWEN2VL
                )
        raise ConversionError("no language model tensors (expected model.layers.* or model.language_model.*)")

    def text_metadata(self, writer: gguf.GGUFWriter) -> None:
        add_llama_text_metadata(self, writer, mrope=True)

    # -- vision -------------------------------------------------------------------------------
    def _wa_pattern(self) -> int:
        full = [int(i) for i in self.vision_config.get("fullatt_block_indexes") or []]
        if not full:
            raise ConversionError("vision_config has no fullatt_block_indexes")
        step = full[0] + 1
        if any(b - a != step for a, b in zip(full, full[1:], strict=False)):
            raise ConversionError(
                f"fullatt_block_indexes {full} are not evenly spaced (libmtmd needs a pattern)"
            )
        return step

    def mmproj_metadata(self, writer: gguf.GGUFWriter) -> None:
        vision = self.vision_config
        processor = self.checkpoint.image_processor
        if not processor:
            raise ConversionError("no image processor config (preprocessor_config.json)")
        writer.add_type(gguf.GGUFType.MMPROJ)
        writer.add_name(self.checkpoint.root.name + " vision projector")
        writer.add_file_type(OUTTYPES[self.outtype])
        writer.add_clip_has_vision_encoder(True)
        writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN25VL)
        writer.add_vision_projection_dim(
            int(vision.get("out_hidden_size") or self.text_config["hidden_size"])
        )
        writer.add_vision_image_size(560)  # only a warm-up size for libmtmd: images keep their own size
        writer.add_vision_patch_size(int(vision["patch_size"]))
        writer.add_vision_embedding_length(int(vision["hidden_size"]))
        writer.add_vision_feed_forward_length(int(vision["intermediate_size"]))
        writer.add_vision_block_count(int(vision["depth"]))
        writer.add_vision_head_count(int(vision["num_heads"]))
        writer.add_vision_attention_layernorm_eps(1e-6)  # the vision RMS norms' epsilon in transformers
        writer.add_vision_image_mean(
            [float(v) for v in processor.get("image_mean", [0.48145466, 0.4578275, 0.40821073])]
        )
        writer.add_vision_image_std(
            [float(v) for v in processor.get("image_std", [0.26862954, 0.26130258, 0.27577711])]
        )
        writer.add_vision_use_silu(True)
        writer.add_vision_n_wa_pattern(self._wa_pattern())
        add_provenance(writer, self.checkpoint, self.source_sha256)

    def mmproj_plan(self) -> list[TensorPlan]:
        vision = self.vision_config
        hidden = int(vision["hidden_size"])
        patch = int(vision["patch_size"])
        merged = hidden * 4
        out = int(vision.get("out_hidden_size") or self.text_config["hidden_size"])
        expected = {
            "attn_out.weight": (hidden, hidden),
            "ffn_gate.weight": (int(vision["intermediate_size"]), hidden),
            "ffn_up.weight": (int(vision["intermediate_size"]), hidden),
            "ffn_down.weight": (hidden, int(vision["intermediate_size"])),
            "ln1.weight": (hidden,),
            "ln2.weight": (hidden,),
            "v.post_ln.weight": (hidden,),
            "mm.0.weight": (merged, merged),
            "mm.2.weight": (out, merged),
        }
        plan: list[TensorPlan] = []
        for name, shape in self.checkpoint.tensor_shapes().items():
            prefix = next((p for p in VISION_PREFIXES if name.startswith(p)), None)
            if prefix is None:
                continue
            rest = name[len(prefix) :]
            if rest == "patch_embed.proj.weight":
                if tuple(shape) != (hidden, 3, 2, patch, patch):
                    raise ConversionError(
                        f"{name} has shape {list(shape)}, expected {[hidden, 3, 2, patch, patch]}"
                    )
                for index, gguf_name in enumerate(("v.patch_embd.weight", "v.patch_embd.weight.1")):
                    plan.append(
                        plan_tensor(
                            gguf_name, name, (hidden, 3, patch, patch), self.outtype, True, _frame(index)
                        )
                    )
                continue
            if rest.startswith("merger."):
                part = rest[len("merger.") :]
                mapping = {"ln_q.weight": "v.post_ln.weight"}
                for layer, target in (("0", "mm.0"), ("2", "mm.2")):
                    for kind in ("weight", "bias"):
                        mapping[f"mlp.{layer}.{kind}"] = f"{target}.{kind}"
                if part not in mapping:
                    raise ConversionError(f"unexpected merger tensor {name!r}")
                check_vision_shape(name, mapping[part], shape, expected)
                plan.append(plan_tensor(mapping[part], name, shape, self.outtype))
                continue
            if not rest.startswith("blocks."):
                raise ConversionError(f"no GGUF name for vision tensor {name!r}")
            _, block, tail = rest.split(".", 2)
            stem, _, kind = tail.rpartition(".")
            if stem == "attn.qkv":
                if shape[0] != 3 * hidden:
                    raise ConversionError(f"{name} has {shape[0]} rows, expected {3 * hidden}")
                for part_index, target in enumerate(("attn_q", "attn_k", "attn_v")):
                    rows = (hidden, *shape[1:])
                    plan.append(
                        plan_tensor(
                            f"v.blk.{block}.{target}.{kind}",
                            name,
                            rows,
                            self.outtype,
                            transform=_rows(part_index),
                        )
                    )
                continue
            if stem not in _BLOCK_NAMES:
                raise ConversionError(f"no GGUF name for vision tensor {name!r}")
            gguf_name = f"v.blk.{block}.{_BLOCK_NAMES[stem]}.{kind}"
            check_vision_shape(name, gguf_name, shape, expected)
            plan.append(plan_tensor(gguf_name, name, shape, self.outtype))
        written = {item.gguf_name for item in plan}
        required = {"v.patch_embd.weight", "v.post_ln.weight", "mm.0.weight", "mm.2.weight"} | {
            f"v.blk.{i}.{t}.weight"
            for i in range(int(vision["depth"]))
            for t in (
                "attn_q",
                "attn_k",
                "attn_v",
                "attn_out",
                "ffn_gate",
                "ffn_up",
                "ffn_down",
                "ln1",
                "ln2",
            )
        }
        missing = sorted(required - written)
        if missing:
            raise ConversionError(
                f"vision tower lacks {len(missing)} tensor(s) the config implies, e.g. {missing[0]!r}; "
                "config.json and the weights do not match"
            )
        return plan


EXPORTER = Qwen25VLExporter
