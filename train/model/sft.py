"""Instruction tuning (`python -m train sft --config CONFIG.toml`) with transformers' Trainer and peft.

LoRA on the language model (with the vision tower and connector trained in full by default, since
forensic traces are low-level) or full fine-tuning; bf16 on GPUs that have it; gradient
checkpointing; checkpoints every `save_steps` that a re-run resumes from; one seed for everything.
Multi-GPU comes from the Trainer itself under `accelerate launch` or `torchrun`. At the end the
model is merged, saved, and exported by our converter with the profile it was trained with.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fakescope_cli.errors import DatasetError
from fakescope_cli.imageio import decode_image, read_image_file
from fakescope_cli.profile import DEFAULT_PROFILE, ModelProfile, load_profile_toml
from train.model.adapter import PROCESSOR_DIR, record_base
from train.model.config import SFTConfig
from train.model.distill import distill_trainer_class, judgment_label, label_token_ids, read_teacher
from train.model.hf_model import IGNORE, load_model, messages_from_llava, training_example

log = logging.getLogger(__name__)


def read_conversations(
    path: Path, image_root: Path | None = None, max_items: int = 0, split: str = ""
) -> list[tuple[Path, list[dict[str, Any]]]]:
    """(image path, chat messages) for each LLaVA item; every image is opened and checked here, so a
    bad file stops the run before any training step, with its name."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the conversation file ({exc})") from None
    if not isinstance(items, list):
        raise DatasetError(f"{path}: expected a JSON list of conversations")
    root = image_root or path.parent
    out: list[tuple[Path, list[dict[str, Any]]]] = []
    for index, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or "image" not in item
            or not isinstance(item.get("conversations"), list)
        ):
            raise DatasetError(f"{path}: item {index} needs 'image' and a 'conversations' list")
        if split and item.get("split", split) != split:
            continue  # never train on validation or test images
        if max_items and len(out) >= max_items:
            break
        turns = item["conversations"]
        if not turns or any(t.get("from") not in ("human", "gpt") or "value" not in t for t in turns):
            raise DatasetError(f"{path}: item {index} has a turn without 'from' (human/gpt) and 'value'")
        image = Path(item["image"])
        image = image if image.is_absolute() else root / image
        try:
            decode_image(image, read_image_file(image))
        except Exception as exc:
            raise DatasetError(f"{path}: item {index}: {exc}") from None
        out.append((image, messages_from_llava(turns)))
    if not out:
        raise DatasetError(f"{path}: no conversations")
    return out


class ConversationDataset(torch.utils.data.Dataset):
    """Training examples; with ``teachers`` (one per item, NaN for none) each carries a ``teacher``."""

    def __init__(
        self,
        processor: Any,
        items: list[tuple[Path, list[dict[str, Any]]]],
        max_length: int,
        teachers: list[float] | None = None,
    ) -> None:
        self.processor, self.items, self.max_length = processor, items, max_length
        self.teachers = teachers

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, messages = self.items[index]
        rgb = decode_image(path, read_image_file(path)).rgb  # as the CLI sees it: upright, alpha over white
        example = training_example(self.processor, rgb, messages, self.max_length, f"{path} (item {index})")
        if self.teachers is not None:
            example["teacher"] = torch.tensor(self.teachers[index], dtype=torch.float32)
        return example


def item_teachers(
    items: list[tuple[Path, list[dict[str, Any]]]], teacher: dict[str, float], profile: ModelProfile
) -> list[float]:
    """Each item's teacher logit: judgment items whose image has one; NaN for every other item."""
    fake, real = profile.label_fake.lower(), profile.label_real.lower()
    return [
        teacher.get(str(path), math.nan) if judgment_label(messages, fake, real) else math.nan
        for path, messages in items
    ]


@dataclass
class PadCollator:
    """Right-pad token rows; pad image tiles with zeros (Idefics3 drops all-zero tiles)."""

    pad_id: int

    def __call__(self, batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for key in batch[0]:
            values = [example[key] for example in batch]
            if key in ("input_ids", "attention_mask", "labels"):
                fill = {"input_ids": self.pad_id, "attention_mask": 0, "labels": IGNORE}[key]
                out[key] = torch.nn.utils.rnn.pad_sequence(values, batch_first=True, padding_value=fill)
            elif all(v.shape == values[0].shape for v in values):
                out[key] = torch.stack(values)
            else:
                longest = max(v.shape[0] for v in values)
                padded = [torch.cat([v, v.new_zeros((longest - v.shape[0], *v.shape[1:]))]) for v in values]
                out[key] = torch.stack(padded)
        return out


def _bf16(setting: str) -> bool:
    available = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if setting == "on" and not available:
        raise DatasetError("train.bf16 = 'on' but this machine has no bf16-capable GPU")
    return available if setting == "auto" else setting == "on"


# Where the parts live in the architectures we convert (Idefics3/SmolVLM, LLaVA, Qwen2.5-VL).
TEXT_MODULES = ("text_model", "language_model")
VISION_MODULES = ("vision_model", "vision_tower", "visual")
CONNECTOR_MODULES = ("connector", "multi_modal_projector")


def fully_trained_modules(model: Any, config: SFTConfig) -> list[str]:
    """LoRA runs: the vision tower (``train_vision``) and connector (``train_connector``) module
    names trained in full."""
    wanted = (*(VISION_MODULES if config.train.train_vision else ()),)
    wanted += CONNECTOR_MODULES if config.train.train_connector else ()
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    return [n for n in wanted if n in names]


def _apply_method(model: Any, config: SFTConfig) -> Any:
    train = config.train
    if train.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    text_layers = "|".join(train.lora_targets)
    full = fully_trained_modules(model, config)
    lora = LoraConfig(
        r=train.lora_r,
        lora_alpha=train.lora_alpha,
        lora_dropout=train.lora_dropout,
        target_modules=rf".*({'|'.join(TEXT_MODULES)}).*\.({text_layers})",
        modules_to_save=full or None,
    )
    model = get_peft_model(model, lora)
    if train.gradient_checkpointing:
        model.enable_input_require_grads()
    return model


@dataclass(frozen=True)
class SFTResult:
    losses: list[float]
    merged: Path
    gguf: Path | None
    mmproj: Path | None
    steps: int
    adapter: Path | None = None  # LoRA runs: the trained weights alone (peft folder)
    distill_losses: tuple[float, ...] = ()  # the distillation term, step by step (this process's steps)


def run_sft(config: SFTConfig) -> SFTResult:
    from transformers import Trainer, TrainingArguments, set_seed

    train = config.train
    set_seed(train.seed)
    profile: ModelProfile = (
        load_profile_toml(config.export.profile) if config.export.profile else DEFAULT_PROFILE
    )
    data = config.data
    items = read_conversations(data.train, data.image_root, data.max_items, data.split)
    bf16 = _bf16(train.bf16)
    processor, model = load_model(config.model.checkpoint, torch.bfloat16 if bf16 else torch.float32)
    model = _apply_method(model, config)
    train.output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config.source, train.output_dir / "sft-config.toml")
    arguments = TrainingArguments(
        output_dir=str(train.output_dir),
        per_device_train_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.learning_rate,
        num_train_epochs=train.epochs,
        max_steps=train.max_steps,
        warmup_steps=train.warmup_ratio,  # a float below 1 is a share of all steps
        weight_decay=train.weight_decay,
        logging_steps=train.logging_steps,
        save_steps=train.save_steps,
        save_total_limit=2,
        seed=train.seed,
        data_seed=train.seed,
        bf16=bf16,
        gradient_checkpointing=train.gradient_checkpointing or None,
        remove_unused_columns=False,
        report_to=[],
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    pad_id = processor.tokenizer.pad_token_id or 0
    teachers, extra = None, {}
    trainer_class: type = Trainer
    if train.distill_weight > 0 and data.teacher is not None:
        teachers = item_teachers(items, read_teacher(data.teacher), profile)
        chosen = [i for i, t in enumerate(teachers) if not math.isnan(t)]
        if not chosen:
            raise DatasetError(f"{data.teacher}: no judgment item's image has a teacher logit")
        path, messages = items[chosen[0]]
        ids = label_token_ids(
            processor,
            decode_image(path, read_image_file(path)).rgb,
            messages,
            profile.label_fake.lower(),
            profile.label_real.lower(),
        )
        log.info("distillation on %d of %d items (answer tokens %s)", len(chosen), len(items), ids)
        extra = {"distill": (train.distill_weight, train.distill_temperature, *ids)}
        trainer_class = distill_trainer_class(Trainer)
    trainer = trainer_class(
        model=model,
        args=arguments,
        train_dataset=ConversationDataset(processor, items, train.max_length, teachers),
        data_collator=PadCollator(pad_id),
        **extra,
    )
    resume = train.resume and any(train.output_dir.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    adapter = None
    if train.method == "lora":
        # The trained part alone (LoRA factors, vision tower and connector): small enough to bring
        # back from a GPU machine and merge elsewhere with `python -m train merge-adapter`.
        adapter = train.output_dir / "adapter"
        model.save_pretrained(adapter)
        processor.save_pretrained(adapter / PROCESSOR_DIR)  # the tokenizer the run used, for the merge
        replaced = fully_trained_modules(model.get_base_model(), config)
        record_base(adapter, config.model.checkpoint, replaced, "bfloat16" if bf16 else "float32")
    merged_model = model.merge_and_unload() if train.method == "lora" else model
    merged = train.output_dir / "merged"
    merged_model.save_pretrained(merged)
    processor.save_pretrained(merged)
    distilled = tuple(getattr(trainer, "distill_losses", ()))
    training = {"config": str(config.source), "steps": trainer.state.global_step, "losses": losses}
    if distilled:
        training["distill_losses"] = [round(x, 5) for x in distilled]
    for folder in (merged, adapter):
        if folder is not None:
            (folder / "fakescope-training.json").write_text(json.dumps(training, indent=2))
    gguf = mmproj = None
    if config.export.enabled:
        from conversion.export import export_checkpoint

        result = export_checkpoint(
            merged,
            config.export.out_dir,
            name=config.export.name,
            outtype=config.export.outtype,
            profile=profile,
        )
        gguf, mmproj = result.text, result.mmproj
    return SFTResult(losses, merged, gguf, mmproj, trainer.state.global_step, adapter, distilled)
