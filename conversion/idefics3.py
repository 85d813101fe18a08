"""Idefics3 / SmolVLM: SigLIP-style vision tower + pixel-shuffle connector + Llama text model.

Facts libmtmd expects (read from llama.cpp's ``tools/mtmd`` sources): projector type
``idefics3``; the connector's single linear layer is ``mm.model.fc.weight``; the pixel-shuffle
factor is ``clip.vision.projector.scale_factor``; the processor's longest edge is
``clip.vision.preproc_image_size``; the vision MLP uses tanh-approximated GELU.
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
from conversion.vocab import byte_level_pieces
from fakescope_cli.errors import ConversionError

# Text libmtmd looks up as single tokens around Idefics3 tiles, as byte-level BPE spells them.
IDEFICS3_PIECES = {
    "\n": "\u010a",
    "\n\n": "\u010a\u010a",
    "<fake_token_around_image>": "<fake_token_around_image>",
    "<global-img>": "<global-img>",
}
TEXT_PREFIX = "model.text_model."
VISION_PREFIXES = ("model.vision_model.", "model.connector.")


class Idefics3Exporter(ArchitectureExporter):
    # libmtmd encodes Idefics3/SmolVLM towers fastest from f32 on CPU: per image, FakeScope-mini's
    # shape f32 15 ms, q8_0 19, f16 23; SmolVLM-256M's f32 23 s, f16 29, q8_0 34 (bench_types).
    default_projector = "f32"

    @property
    def text_config(self) -> dict[str, Any]:
        config = dict(self.checkpoint.config.get("text_config") or {})
        if config.get("model_type", "llama") != "llama":
            raise ConversionError(f"text model type {config.get('model_type')!r} is not Llama")
        return config

    @property
    def vision_config(self) -> dict[str, Any]:
        config = self.checkpoint.config.get("vision_config")
        if not config:
            raise ConversionError("config.json has no vision_config")
        return dict(config)

    def text_plan(self) -> list[TensorPlan]:
        return llama_plan(self.checkpoint.tensor_shapes(), self.text_config, TEXT_PREFIX, self.outtype)

    def text_metadata(self, writer: gguf.GGUFWriter) -> None:
        add_llama_text_metadata(self, writer)

    def mmproj_metadata(self, writer: gguf.GGUFWriter) -> None:
        vision = self.vision_config
        processor = self.checkpoint.image_processor
        if not processor:
            raise ConversionError(
                "no image processor config (preprocessor_config.json / processor_config.json)"
            )
        writer.add_type(gguf.GGUFType.MMPROJ)
        writer.add_name(self.checkpoint.root.name + " vision projector")
        writer.add_file_type(OUTTYPES[self.outtype])
        writer.add_clip_has_vision_encoder(True)
        writer.add_clip_projector_type(gguf.VisionProjectorType.IDEFICS3)
        writer.add_vision_projection_dim(int(self.text_config["hidden_size"]))
        writer.add_vision_image_size(int(vision["image_size"]))
        writer.add_vision_patch_size(int(vision["patch_size"]))
        writer.add_vision_embedding_length(int(vision["hidden_size"]))
        writer.add_vision_feed_forward_length(int(vision["intermediate_size"]))
        writer.add_vision_block_count(int(vision["num_hidden_layers"]))
        writer.add_vision_head_count(int(vision["num_attention_heads"]))
        writer.add_vision_attention_layernorm_eps(float(vision.get("layer_norm_eps", 1e-6)))
        writer.add_vision_image_mean([float(v) for v in processor.get("image_mean", [0.5] * 3)])
        writer.add_vision_image_std([float(v) for v in processor.get("image_std", [0.5] * 3)])
        writer.add_vision_projector_scale_factor(self.scale_factor)
        writer.add_vision_use_gelu(True)
        longest = int((processor.get("size") or {}).get("longest_edge", vision["image_size"]))
        self._check_layout(int(vision["image_size"]), longest)
        writer.add_vision_preproc_image_size(longest)
        add_provenance(writer, self.checkpoint, self.source_sha256)

    def _check_layout(self, tile: int, longest: int) -> None:
        """Refuse what libmtmd would lay out unlike transformers (see ``fakescope_cli.engine.shape``)."""
        if longest <= tile:
            raise ConversionError(
                f"the processor's longest edge ({longest} px) is not above the tile ({tile} px): libmtmd "
                "would add a 1x1 grid and an overview that transformers never showed the model; use a "
                "longest edge of at least twice the tile"
            )
        if self.profile.is_crops and self.profile.crop_size != longest:
            raise ConversionError(
                f"profile crop_size {self.profile.crop_size} px differs from the processor's longest edge "
                f"({longest} px): every crop would be resized before the vision tower; "
                f"set crop_size = {longest}"
            )
        vocab = byte_level_pieces(self.checkpoint)
        if vocab is not None:
            missing = [text for text, piece in IDEFICS3_PIECES.items() if piece not in vocab]
            if missing:
                raise ConversionError(
                    f"the tokenizer has no single token for {', '.join(repr(t) for t in missing)}, which "
                    "libmtmd's Idefics3 image layout looks up; llama.cpp would reject every prompt"
                )

    @property
    def scale_factor(self) -> int:
        return int(self.checkpoint.config.get("scale_factor", 2))

    def mmproj_plan(self) -> list[TensorPlan]:
        vision = self.vision_config
        n_layers = int(vision["num_hidden_layers"])
        names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, n_layers)
        expected = vision_tower_shapes(vision)
        expected["mm.model.fc.weight"] = (
            int(self.text_config["hidden_size"]),
            int(vision["hidden_size"]) * self.scale_factor**2,
        )
        plan = []
        for name, shape in self.checkpoint.tensor_shapes().items():
            if not name.startswith(VISION_PREFIXES):
                continue
            new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if new_name is None:
                raise ConversionError(f"no GGUF name for vision tensor {name!r}")
            check_vision_shape(name, new_name, shape, expected)
            # llama.cpp keeps the patch and position embeddings in f32.
            plan.append(plan_tensor(new_name, name, shape, self.outtype, keep_f32=".embeddings." in name))
        require_vision_tensors(plan, n_layers, ("mm.model.fc.weight", "v.patch_embd.weight"))
        return plan


EXPORTER = Idefics3Exporter
