"""A LoRA run's trained weights apart from its base checkpoint, and their merge back into it.

A GPU machine that returns only small files cannot hand back a merged checkpoint, but it can hand
back the peft folder `sft` writes to ``OUTPUT/adapter`` (LoRA factors, plus the vision tower and
connector trained in full). ``merge_adapter`` applies it to a base checkpoint on any machine. The
base must hold the same frozen weights the adapter was trained on: ``sft`` records a digest of
every tensor the adapter does not replace, and the merge refuses a base whose digest differs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from conversion.safetensors_io import read_index
from fakescope_cli.errors import ConfigError

BASE_RECORD = "fakescope-base.json"
PROCESSOR_DIR = "processor"  # beside the adapter: the processor (tokenizer, template) it was trained with


@dataclass(frozen=True)
class MergeResult:
    merged: Path
    frozen_tensors: int  # tensors checked against the digest recorded at training time
    replaced_modules: list[str]


def _weight_files(checkpoint: Path) -> list[Path]:
    files = sorted(checkpoint.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{checkpoint}: no .safetensors weights (is it a checkpoint folder?)")
    return files


def _replaced(name: str, modules: list[str]) -> bool:
    parts = name.split(".")
    return any(module in parts for module in modules)


def frozen_digest(checkpoint: Path, replaced_modules: list[str]) -> tuple[str, int]:
    """SHA-256 over the names, types, shapes and bytes of the tensors outside ``replaced_modules``
    (as stored on disk, so the same file gives the same digest on any machine); and their count."""
    entries = {}
    for path in _weight_files(checkpoint):
        entries.update(read_index(path))
    digest = hashlib.sha256()
    count = 0
    for name in sorted(entries):
        if _replaced(name, replaced_modules):
            continue
        entry = entries[name]
        digest.update(f"{name}|{entry.dtype}|{entry.shape}\n".encode())
        with entry.path.open("rb") as fh:
            fh.seek(entry.start)
            remaining = entry.end - entry.start
            while remaining:
                block = fh.read(min(remaining, 1 << 24))
                if not block:
                    raise ConfigError(f"{entry.path}: file ends inside tensor {name!r}")
                digest.update(block)
                remaining -= len(block)
        count += 1
    return digest.hexdigest(), count


def record_base(adapter: Path, base: Path, replaced_modules: list[str], dtype: str = "float32") -> None:
    """Write the base checkpoint's frozen-weight digest beside a freshly saved adapter, and the
    dtype the base was loaded in for training (the merge loads it the same way)."""
    digest, count = frozen_digest(base, replaced_modules)
    record = {
        "base": str(base),
        "replaced_modules": replaced_modules,
        "frozen_sha256": digest,
        "frozen_tensors": count,
        "dtype": dtype,
    }
    (adapter / BASE_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def _read_record(adapter: Path) -> dict:
    if not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json)")
    path = adapter / BASE_RECORD
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; the adapter cannot be matched to its base") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("frozen_sha256"), str):
        raise ConfigError(f"{path}: no frozen_sha256 in it")
    if record.get("dtype", "float32") not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"{path}: dtype {record.get('dtype')!r} is not float32, bfloat16 or float16")
    return record


def merge_adapter(base: Path, adapter: Path, out: Path) -> MergeResult:
    """``base`` + ``adapter`` merged and saved to ``out`` (model, processor, training record)."""
    record = _read_record(adapter)
    modules = [str(m) for m in record.get("replaced_modules", [])]
    digest, count = frozen_digest(base, modules)
    if digest != record["frozen_sha256"]:
        raise ConfigError(
            f"{base}: its frozen weights differ from those {adapter} was trained on "
            f"(digest {digest[:12]} vs {record['frozen_sha256'][:12]}); rebuild the base the same way"
        )
    import torch
    from peft import PeftModel

    from train.model.hf_model import load_model

    # the weights the run trained against: a bf16 run saw (and merged into) bf16-rounded base
    # weights, so merging into float32 ones would give a slightly different model
    processor, model = load_model(base, getattr(torch, record.get("dtype", "float32")))
    if (adapter / PROCESSOR_DIR).is_dir():  # not the base's, which another library version may have rebuilt
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(adapter / PROCESSOR_DIR)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(partial)
    processor.save_pretrained(partial)
    for extra in ("fakescope-training.json",):
        if (adapter / extra).is_file():
            shutil.copyfile(adapter / extra, partial / extra)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return MergeResult(out, count, modules)
