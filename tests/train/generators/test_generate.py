from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.errors import ConfigError, ModelFileError
from tests.train.generators.conftest import FAMILY_NAMES, SIZE
from train.generators.generate import generate


def _run(trained: dict[str, Path], family: str, out: Path, sources: Path, count: int = 3, seed: int = 0):
    source = sources if family == "ae-resynth" else None
    return generate(trained[family], count, out, seed=seed, device="cpu", source_dir=source)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_pngs_and_manifest(family: str, trained: dict[str, Path], sources: Path, tmp_path: Path) -> None:
    summary = _run(trained, family, tmp_path / "a", sources, seed=7)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"{family}-s7-0000{i}.png" for i in range(3)] + ["generation.json"]
    assert (summary.written, summary.skipped, summary.count) == (3, 0, 3)
    pixels = []
    for path in summary.files:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (SIZE, SIZE))
            assert not image.info  # raw pixels: no text chunks, no gamma, no ICC profile
            pixels.append(np.asarray(image))
    assert not np.array_equal(pixels[0], pixels[1])  # each index its own noise (or its own source)
    manifest = json.loads((tmp_path / "a" / "generation.json").read_text())
    assert manifest["family"] == family and manifest["complete"] is True
    assert (manifest["seed"], manifest["count"], manifest["image_size"], manifest["device"]) == (
        7,
        3,
        SIZE,
        "cpu",
    )
    config = json.loads((trained[family] / "config.json").read_text())
    assert manifest["weights_sha256"] == config["weights_sha256"] and manifest["seconds"] >= 0
    if family == "ae-resynth":
        assert manifest["sources"] == ["crop100.png", "crop101.png", "crop102.png"]

    again = _run(trained, family, tmp_path / "b", sources, seed=7)
    assert [p.read_bytes() for p in again.files] == [p.read_bytes() for p in summary.files]
    if family != "ae-resynth":  # re-synthesis has no noise: the seed only names the files
        other = _run(trained, family, tmp_path / "c", sources, seed=8)
        assert other.files[0].read_bytes() != summary.files[0].read_bytes()


def test_rerun_skips_finished_files_and_count_does_not_change_bytes(
    trained: dict[str, Path], sources: Path, tmp_path: Path
) -> None:
    first = _run(trained, "ddpm", tmp_path / "out", sources, count=3)
    reference = [p.read_bytes() for p in first.files]
    first.files[1].unlink()
    stamps = [p.stat().st_mtime_ns for p in (first.files[0], first.files[2])]
    resumed = _run(trained, "ddpm", tmp_path / "out", sources, count=5)
    assert (resumed.written, resumed.skipped) == (3, 2)
    assert [p.stat().st_mtime_ns for p in (first.files[0], first.files[2])] == stamps
    assert [p.read_bytes() for p in resumed.files[:3]] == reference
    fresh = _run(trained, "ddpm", tmp_path / "fresh", sources, count=5)
    assert [p.read_bytes() for p in fresh.files] == [p.read_bytes() for p in resumed.files]
    again = _run(trained, "ddpm", tmp_path / "out", sources, count=5)
    assert (again.written, again.skipped) == (0, 5)
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "out").iterdir())


def test_a_folder_holds_one_generation(trained: dict[str, Path], sources: Path, tmp_path: Path) -> None:
    _run(trained, "gan-tconv", tmp_path, sources, count=1)
    with pytest.raises(ConfigError, match="another seed; use another --out folder"):
        _run(trained, "gan-tconv", tmp_path, sources, count=1, seed=1)
    with pytest.raises(ConfigError, match="another family, weights_sha256"):
        _run(trained, "gan-pixelshuffle", tmp_path, sources, count=1)


def test_source_rules(trained: dict[str, Path], sources: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ae-resynth re-synthesises real crops: give --source"):
        generate(trained["ae-resynth"], 2, tmp_path, seed=0, device="cpu")
    with pytest.raises(ConfigError, match="6 crops, fewer than --count 7"):
        generate(trained["ae-resynth"], 7, tmp_path, seed=0, device="cpu", source_dir=sources)
    with pytest.raises(ConfigError, match="--source is only for families that re-synthesise"):
        generate(trained["ddpm"], 2, tmp_path, seed=0, device="cpu", source_dir=sources)


def _copy(trained: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained["gan-tconv"], tmp_path / "weights"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda w: shutil.rmtree(w), "no such weights folder"),
        (lambda w: (w / "config.json").unlink(), r"config\.json: missing"),
        (lambda w: (w / "config.json").write_text("{broken"), r"config\.json: cannot read"),
        (lambda w: (w / "weights.safetensors").unlink(), r"weights\.safetensors: missing"),
        (
            lambda w: (w / "weights.safetensors").write_bytes(
                (w / "weights.safetensors").read_bytes()[:-100]
            ),
            "sha256 differs",
        ),
    ],
)
def test_damaged_weights_are_one_error(
    trained: dict[str, Path], sources: Path, tmp_path: Path, damage, message: str
) -> None:
    weights = _copy(trained, tmp_path)
    damage(weights)
    with pytest.raises(ModelFileError, match=message):
        generate(weights, 1, tmp_path / "out", seed=0, device="cpu")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"family": "vae"}, "unknown generator family 'vae'"),
        ({"params": {"image_size": SIZE, "width": 9, "latent": 128}}, "does not match its config"),
        ({"params": {}}, "incomplete or invalid config"),
        ({"params": {"image_size": 2**20, "width": 8, "latent": 128}}, "--image-size 1048576"),
    ],
)
def test_config_that_does_not_fit_the_weights(
    trained: dict[str, Path], tmp_path: Path, edit: dict, message: str
) -> None:
    weights = _copy(trained, tmp_path)
    config = json.loads((weights / "config.json").read_text()) | edit
    (weights / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=message):
        generate(weights, 1, tmp_path / "out", seed=0, device="cpu")
