"""Weights as safetensors plus a JSON config beside them (never pickle), and loading them back."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from fakescope_cli.errors import FakeScopeError, ModelFileError
from fakescope_cli.models import file_sha256
from train.generators.family import Family, Nets
from train.generators.registry import load_family
from train.io import atomic_write_text

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
FORMAT = 1


def save_weights(out_dir: Path, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> str:
    """Write ``weights.safetensors`` then ``config.json`` (each atomically); returns the weights sha256."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{WEIGHTS}.", suffix=".tmp", dir=out_dir)
        os.close(handle)
        try:
            save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, temporary)
            sha = file_sha256(Path(temporary))
            os.replace(temporary, out_dir / WEIGHTS)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ModelFileError(f"{out_dir / WEIGHTS}: cannot write ({exc.strerror or exc})") from None
    atomic_write_text(out_dir / CONFIG, json.dumps({**config, "weights_sha256": sha}, indent=2) + "\n")
    return sha


@dataclass
class LoadedGenerator:
    """A trained family ready to sample: its networks (eval mode, on ``device``) and its config."""

    family: Family
    nets: Nets
    config: dict[str, Any]
    sha256: str


def load_weights(weights_dir: Path, device: torch.device) -> LoadedGenerator:
    """Read a ``train_family`` output folder; missing, corrupt or mismatched files are one error."""
    config_path, weights_path = weights_dir / CONFIG, weights_dir / WEIGHTS
    if not weights_dir.is_dir():
        raise ModelFileError(f"{weights_dir}: no such weights folder (run synth-train first)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{config_path}: missing (not a synth-train output folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{config_path}: cannot read ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{config_path}: not a synth-train config (format {FORMAT} expected)")
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path}: missing")
    sha = file_sha256(weights_path)
    if sha != config.get("weights_sha256"):
        raise ModelFileError(f"{weights_path}: sha256 differs from {CONFIG} (damaged or replaced)")
    try:
        family = load_family(str(config["family"]))(config["params"])
        nets = family.build()
        tensors = load_file(str(weights_path))
    except FakeScopeError as exc:
        raise ModelFileError(f"{config_path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{config_path}: incomplete or invalid config ({exc})") from None
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{weights_path}: cannot read ({exc})") from None
    for name in family.saved:
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            nets[name].load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise ModelFileError(f"{weights_path}: does not match its config ({first})") from None
        nets[name].to(device).eval()
    return LoadedGenerator(family, nets, config, sha)
