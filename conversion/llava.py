"""LLaVA-1.5 in the ``llava-hf`` layout: CLIP ViT + 2-layer MLP projector + Llama/Vicuna text.

Facts libmtmd expects (read from llama.cpp's ``tools/mtmd`` sources, ``clip.cpp`` and
``models/llava.cpp``): projector type ``mlp``; the projector's layers are ``mm.0`` and ``mm.2``
(GELU between them); the class embedding is ``v.class_embd`` and CLIP's pre-norm ``v.pre_ln``.
The graph stops at the deepest entry of ``clip.vision.feature_layer`` (indices count the
embeddings as 0, so Hugging Face's ``vision_feature_layer = -2`` is ``num_hidden_layers - 1``) and
always drops the class token, which is the ``default`` feature strategy. There must be no
``v.post_ln``: LLaVA reads the layer output before CLIP's final norm. Without ``clip.use_gelu``
the tower's MLP uses quick-GELU, CLIP's activation. Images are resized to fit the square tile and
padded with the mean colour (as LLaVA-1.5 was trained), not centre-cropped as ``CLIPImageProcessor``
does; the parity tests measure that difference.
"""

from __future__ import annotations

from typing import Any

import gguf

from conversion.base import (
    OUTTYPES,
    ArchitectureExporter,
    TensorPlan,
    add_provenance,
    plan_tensor,
)
from conversion.llama_text import add_llama_text_metadata, llama_plan
from conversion.vision import check_vision_shape, require_vision_tensors, vision_tower_shapes
from fakescope_cli.errors import ConversionError

# (text prefix, lm_head prefix): the hub's llava-hf files (also what transformers 5 saves), and
# the layout transformers 4.5x saved.
TEXT_LAYOUTS = (("language_model.model.", "language_model.lm_head."), ("model.language_model.", "lm_head."))
VISION_PREFIXES = (
    "model.vision_tower.vision_model.",
    "model.vision_tower.",
    "vision_tower.vision_model.",
    "vision_tower.",
)
PROJECTOR_PREFIXES = ("model.multi_modal_projector.", "multi_modal_projector.")
PROJECTOR_NAMES = {"linear_1": "mm.0", "linear_2": "mm.2"}
CANONICAL_VISION = "vision_tower.vision_model."


class LlavaExporter(ArchitectureExporter):
    warnings = (
        "these files need a llama.cpp with the fix for LLaVA's class-token order (llama.cpp issue "
        "#25814): FakeScope's own build (make) applies it; a stock llama-cpp-python 0.3.36 computes "
        "different image features (see README, 'Converting a checkpoint')",
    )

    @property
    def text_config(self) -> dict[str, Any]:
        config = dict(self.checkpoint.config.get("text_config") or {})
        if config.get("model_type", "llama") != "llama":
            raise ConversionError(
                f"text model type {config.get('model_type')!r} is not Llama (LLaVA-1.5 uses Llama/Vicuna)"
            )
        return config

    @property
    def vision_config(self) -> dict[str, Any]:
        config = dict(self.checkpoint.config.get("vision_config") or {})
        if config.get("model_type", "clip_vision_model") != "clip_vision_model":
            raise ConversionError(f"vision tower {config.get('model_type')!r} is not CLIP")
        return config

    @property
    def feature_layer(self) -> int:
        """libmtmd's index (0 = embeddings) of the hidden state the projector reads."""
        n_layers = int(self.vision_config["num_hidden_layers"])
        layer = self.checkpoint.config.get("vision_feature_layer", -2)
        if isinstance(layer, list):
            raise ConversionError("several vision feature layers (LLaVA-NeXT style) are not supported")
        index = int(layer) if int(layer) >= 0 else n_layers + 1 + int(layer)
        if not 1 <= index <= n_layers:
            raise ConversionError(f"vision_feature_layer {layer} is out of range for {n_layers} layers")
        strategy = self.checkpoint.config.get("vision_feature_select_strategy", "default")
        if strategy != "default":
            raise ConversionError(f"vision_feature_select_strategy {strategy!r}: libmtmd always drops CLS")
        return index

    # -- text ---------------------------------------------------------------------------------
    def _text_layout(self) -> tuple[str, str]:
        names = self.checkpoint.tensor_shapes()
        for prefix, head in TEXT_LAYOUTS:
            if any(name.startswith(prefix) for name in names):
                return prefix, head
        raise ConversionError(
            "no language model tensors (expected language_model.model.* or model.language_model.*)"
        )

    def text_plan(self) -> list[TensorPlan]:
        prefix, head = self._text_layout()
        return llama_plan(self.checkpoint.tensor_shapes(), self.text_config, prefix, self.outtype, head)

    def text_metadata(self, writer: gguf.GGUFWriter) -> None:
        add_llama_text_metadata(self, writer)

    # -- vision -------------------------------------------------------------------------------
    def mmproj_metadata(self, writer: gguf.GGUFWriter) -> None:
        vision = self.vision_config
        processor = self.checkpoint.image_processor
        if not processor:
            raise ConversionError(
                "no image processor config (preprocessor_config.json / processor_config.json)"
            )
        activation = vision.get("hidden_act", "quick_gelu")
        if activation not in ("quick_gelu", "gelu"):
            raise ConversionError(f"vision activation {activation!r} is not supported (quick_gelu or gelu)")
        crop = processor.get("crop_size") or {}
        tile = int(vision["image_size"])
        if crop and int(crop.get("height", tile)) != tile:
            raise ConversionError(f"processor crop size {crop} differs from the tower's image size {tile}")
        writer.add_type(gguf.GGUFType.MMPROJ)
        writer.add_name(self.checkpoint.root.name + " vision projector")
        writer.add_file_type(OUTTYPES[self.outtype])
        writer.add_clip_has_vision_encoder(True)
        writer.add_clip_projector_type("mlp")  # llama.cpp: PROJECTOR_TYPE_MLP (gguf-py names no constant)
        writer.add_vision_projection_dim(int(self.text_config["hidden_size"]))
        writer.add_vision_image_size(tile)
        writer.add_vision_patch_size(int(vision["patch_size"]))
        writer.add_vision_embedding_length(int(vision["hidden_size"]))
        writer.add_vision_feed_forward_length(int(vision["intermediate_size"]))
        writer.add_vision_block_count(self.feature_layer)  # later layers are never run: not written
        writer.add_vision_head_count(int(vision["num_attention_heads"]))
        writer.add_vision_attention_layernorm_eps(float(vision.get("layer_norm_eps", 1e-5)))
        writer.add_vision_image_mean(
            [float(v) for v in processor.get("image_mean", [0.48145466, 0.4578275, 0.40821073])]
        )
        writer.add_vision_image_std(
            [float(v) for v in processor.get("image_std", [0.26862954, 0.26130258, 0.27577711])]
        )
        writer.add_array("clip.vision.feature_layer", [self.feature_layer])
        if activation == "gelu":
            writer.add_vision_use_gelu(True)
        add_provenance(writer, self.checkpoint, self.source_sha256)

    def mmproj_plan(self) -> list[TensorPlan]:
        vision = self.vision_config
        n_keep = self.feature_layer
        names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, int(vision["num_hidden_layers"]))
        expected = vision_tower_shapes(
            vision, n_positions=(int(vision["image_size"]) // int(vision["patch_size"])) ** 2 + 1
        )
        text_hidden = int(self.text_config["hidden_size"])
        expected.update(
            {
                "mm.0.weight": (text_hidden, int(vision["hidden_size"])),
                "mm.0.bias": (text_hidden,),
                "mm.2.weight": (text_hidden, text_hidden),
                "mm.2.bias": (text_hidden,),
            }
        )
        plan = []
        for name, shape in self.checkpoint.tensor_shapes().items():
            new_name = self._vision_name(name, names)
            if new_name is None:
                continue
            if new_name.startswith("v.blk.") and int(new_name.split(".")[2]) >= n_keep:
                continue
            check_vision_shape(name, new_name, shape, expected)
            plan.append(
                plan_tensor(
                    new_name,
                    name,
                    shape,
                    self.outtype,
                    keep_f32=new_name.startswith(("v.patch_embd", "v.position_embd", "v.class_embd")),
                )
            )
        require_vision_tensors(
            plan,
            n_keep,
            ("mm.0.weight", "mm.2.weight", "v.patch_embd.weight", "v.position_embd.weight", "v.class_embd"),
        )
        return plan

    @staticmethod
    def _vision_name(name: str, names: gguf.TensorNameMap) -> str | None:
        for prefix in PROJECTOR_PREFIXES:
            if name.startswith(prefix):
                layer, _, kind = name[len(prefix) :].partition(".")
                if layer not in PROJECTOR_NAMES:
                    raise ConversionError(
                        f"unexpected projector tensor {name!r} (LLaVA-1.5 has linear_1, linear_2)"
                    )
                return f"{PROJECTOR_NAMES[layer]}.{kind}"
        for prefix in VISION_PREFIXES:
            if name.startswith(prefix):
                rest = name[len(prefix) :]
                if rest.startswith("post_layernorm."):
                    return None  # LLaVA reads the features before CLIP's final norm
                if rest == "embeddings.position_ids":
                    return None
                canonical = CANONICAL_VISION + rest
                new_name = names.get_name(canonical, try_suffixes=(".weight", ".bias"))
                if new_name is None and rest == "embeddings.class_embedding":
                    new_name = "v.class_embd"
                if new_name is None:
                    raise ConversionError(f"no GGUF name for vision tensor {name!r}")
                return new_name
        return None


EXPORTER = LlavaExporter
