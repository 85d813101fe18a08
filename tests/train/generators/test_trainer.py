from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fakescope_cli.errors import ConfigError, DatasetError
from tests.train.generators.conftest import FAMILY_NAMES, SIZE, WIDTH
from train.generators.trainer import train_family
from train.generators.weights import file_sha256


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_weights_and_config_are_written(family: str, trained: dict[str, Path], photos: Path) -> None:
    folder = trained[family]
    config = json.loads((folder / "config.json").read_text())
    assert config["family"] == family and config["params"]["image_size"] == SIZE
    assert (config["steps"], config["batch_size"], config["seed"], config["width"]) == (8, 4, 0, WIDTH)
    assert config["weights_sha256"] == file_sha256(folder / "weights.safetensors")
    assert config["photos"]["count"] == 12 and len(config["photos"]["digest_sha256"]) == 64
    assert all({"first", "last", "curve"} <= set(v) for v in config["losses"].values())
    tensors = load_file(str(folder / "weights.safetensors"))
    prefixes = {key.split(".")[0] for key in tensors}
    assert prefixes == {"ddpm": {"unet"}, "ae-resynth": {"encoder", "decoder"}}.get(family, {"generator"})
    assert not any(path.name.endswith(".tmp") for path in folder.iterdir())


@pytest.mark.parametrize("family", ["ddpm", "gan-tconv"])
def test_same_seed_same_weights_other_seed_differs(
    family: str, trained: dict[str, Path], photos: Path, tmp_path: Path
) -> None:
    common = {"image_size": SIZE, "steps": 8, "batch_size": 4, "device": "cpu", "width": WIDTH}
    again = train_family(family, photos, tmp_path / "again", seed=0, **common)  # type: ignore[arg-type]
    other = train_family(family, photos, tmp_path / "other", seed=1, **common)  # type: ignore[arg-type]
    reference = (trained[family] / "weights.safetensors").read_bytes()
    assert again.weights.read_bytes() == reference
    assert other.weights.read_bytes() != reference


@pytest.mark.parametrize("seed", [0, 3])
def test_autoencoder_reconstruction_improves(photos: Path, tmp_path: Path, seed: int) -> None:
    """L1 reconstruction error falls by over 15% in 60 steps (to 0.72-0.81 of the start, seeds 0-5)."""
    summary = train_family(
        "ae-resynth",
        photos,
        tmp_path,
        image_size=SIZE,
        steps=60,
        batch_size=8,
        seed=seed,
        device="cpu",
        width=WIDTH,
    )
    first, last = summary.first_last("loss")
    assert last < 0.85 * first


def test_ddpm_noise_prediction_improves(photos: Path, tmp_path: Path) -> None:
    """The zero-initialised head starts at E[eps^2] = 1; 60 steps bring it down (to 0.90-0.92, seeds 0-5)."""
    summary = train_family(
        "ddpm", photos, tmp_path, image_size=SIZE, steps=60, batch_size=8, seed=0, device="cpu", width=WIDTH
    )
    first, last = summary.first_last("loss")
    assert 0.9 < first < 1.1
    assert last < 0.96 * first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_size": 24}, "--image-size 24: give a power of two"),
        ({"steps": 0}, "--steps 0"),
        ({"width": 0}, "--width 0: give a channel count"),
        ({"device": "tpu"}, "--device tpu"),
    ],
)
def test_bad_settings_are_errors(photos: Path, tmp_path: Path, changes: dict, message: str) -> None:
    settings = {"image_size": SIZE, "steps": 1, "batch_size": 1, "seed": 0, "device": "cpu", "width": 4}
    with pytest.raises(ConfigError, match=message):
        train_family("gan-tconv", photos, tmp_path, **(settings | changes))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_an_error(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no CUDA device"):
        train_family("ddpm", photos, tmp_path, image_size=SIZE, steps=1, batch_size=1, seed=0, device="cuda")


def test_unknown_family_lists_the_known_ones(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown generator family 'vae'; known: ddpm, gan-tconv"):
        train_family("vae", photos, tmp_path, image_size=SIZE, steps=1, batch_size=1, seed=0)


def test_empty_photo_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no PNG or JPEG photos"):
        train_family(
            "ddpm", tmp_path / "empty", tmp_path / "w", image_size=SIZE, steps=1, batch_size=1, seed=0
        )
