"""Read a Hugging Face checkpoint folder: configs, tokenizer files and tensors (streamed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conversion.safetensors_io import TensorEntry, read_index, read_tensor
from fakescope_cli.errors import ConversionError


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    return data


def _with_library_defaults(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The config as transformers reads it: published checkpoints often leave out keys whose
    defaults live in the library (SmolVLM's vision config has no layer count, for one)."""
    try:
        from transformers import AutoConfig

        return dict(AutoConfig.from_pretrained(root).to_dict())
    except Exception:  # transformers' own validators raise their own types; our checks follow
        return config


@dataclass
class Checkpoint:
    """A checkpoint folder as saved by ``save_pretrained``."""

    root: Path
    config: dict[str, Any]
    image_processor: dict[str, Any] = field(default_factory=dict)
    tokenizer_config: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, TensorEntry] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path) -> Checkpoint:
        root = Path(root)
        if not (root / "config.json").is_file():
            raise ConversionError(f"{root}: no config.json (not a Hugging Face checkpoint folder)")
        config = _with_library_defaults(root, _read_json(root / "config.json"))
        image_processor: dict[str, Any] = {}
        if (root / "preprocessor_config.json").is_file():
            image_processor = _read_json(root / "preprocessor_config.json")
        elif (root / "processor_config.json").is_file():
            image_processor = dict(_read_json(root / "processor_config.json").get("image_processor", {}))
        tokenizer_config = {}
        if (root / "tokenizer_config.json").is_file():
            tokenizer_config = _read_json(root / "tokenizer_config.json")
        return cls(root, config, image_processor, tokenizer_config)

    @property
    def architecture(self) -> str:
        archs = self.config.get("architectures") or []
        if not archs:
            raise ConversionError(f"{self.root}/config.json names no architectures")
        return str(archs[0])

    def chat_template(self) -> str | None:
        """The chat template, wherever this transformers version saved it."""
        jinja = self.root / "chat_template.jinja"
        if jinja.is_file():
            return jinja.read_text(encoding="utf-8")
        for name in ("chat_template.json", "processor_config.json"):
            path = self.root / name
            if path.is_file():
                value = _read_json(path).get("chat_template")
                if isinstance(value, str):
                    return value
        value = self.tokenizer_config.get("chat_template")
        return value if isinstance(value, str) else None

    def tensor_files(self) -> list[Path]:
        files = sorted(self.root.glob("*.safetensors"))
        if not files:
            raise ConversionError(f"{self.root}: no .safetensors weights found")
        return files

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor's shape, read from the safetensors headers (no tensor data is loaded)."""
        if self._index is None:
            index: dict[str, TensorEntry] = {}
            for path in self.tensor_files():
                for name, entry in read_index(path).items():
                    if name in index:
                        raise ConversionError(f"{self.root}: tensor {name!r} is in two weight files")
                    index[name] = entry
            self._index = index
        return {name: entry.shape for name, entry in self._index.items()}

    @property
    def stores_f32(self) -> bool:
        """Every matrix is stored in f32 (or f64): nothing below f32 precision to start from."""
        self.tensor_shapes()
        assert self._index is not None
        matrices = [e for e in self._index.values() if len(e.shape) >= 2]
        return bool(matrices) and all(e.dtype in ("F32", "F64") for e in matrices)

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32, read on its own (see :mod:`conversion.safetensors_io`)."""
        self.tensor_shapes()
        assert self._index is not None
        if name not in self._index:
            raise ConversionError(f"{self.root}: tensor {name!r} not found")
        return read_tensor(self._index[name])

    def sha256(self) -> str:
        """One digest over every file of the checkpoint (names and contents, sorted)."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(self.root)).encode())
            digest.update(b"\0")
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()
