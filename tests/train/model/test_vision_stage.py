"""The vision stage: the whitened DCT start, a bounded resumable run, and its weights put into a
checkpoint that transformers loads (on the tiny random Idefics3: mechanics, not detection)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from train.cli import main
from train.model.vision.dct import dct_basis, dct_filters, whiten_patch_embedding
from train.model.vision.stage import STATE, VISION


def test_dct_basis_is_orthonormal_and_low_frequencies_come_first() -> None:
    basis = dct_basis(8).reshape(64, 64)
    assert np.allclose(basis @ basis.T, np.eye(64), atol=1e-10)
    assert np.allclose(basis[0], 1 / 8)  # the first filter is the patch mean (DC)
    assert dct_filters(8).shape == (192, 3, 8, 8)


def test_whitening_gives_unit_variance_coefficients() -> None:
    conv = torch.nn.Conv2d(3, 200, 8, stride=8)
    rng = np.random.default_rng(0)
    sample = torch.from_numpy(rng.normal(0, 1, (64, 3, 32, 32)).cumsum(axis=3)).float()  # smooth rows
    assert whiten_patch_embedding(conv, sample) == 192
    with torch.no_grad():
        out = conv(sample)[:, :192]
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(192), atol=1e-4)
    assert torch.allclose(out.std(dim=(0, 2, 3)), torch.ones(192), atol=1e-3)


def _crops(folder: Path) -> Path:
    """64 px crops (2 x 2 tiles of the tiny model's 32 px): smooth 'real' ones and 'fake' ones
    with a nearest-neighbour x2 upsampling trace, on photo ids split train/test."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(48):
        label = i % 2
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(base).resize((64, 64), Image.Resampling.BICUBIC))
        if label:
            smooth = np.asarray(
                Image.fromarray(smooth).resize((32, 32)).resize((64, 64), Image.Resampling.NEAREST)
            )
        split = "test" if i >= 36 else "train"
        path = folder / f"{split}-{i}.png"
        Image.fromarray(smooth).save(path)
        rows.append({"path": path.name, "label": label, "split": split, "family": "nn" if label else "real",
                     "photo_id": f"p{i // 4}", "package": "pkg-b" if i % 12 == 0 else "pkg-a"})  # fmt: skip
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def test_bounded_run_resumes_and_its_tower_goes_into_a_checkpoint(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _crops(tmp_path)
    out = tmp_path / "stage"
    args = ["vision-train", "--checkpoint", str(tiny_checkpoint), "--data", str(manifest), "--out", str(out)]
    args += ["--minutes", "0.05", "--threads", "1", "--exclude-package", "pkg-b"]
    assert main(args) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["steps"] > 20 and (out / STATE).is_file() and (out / VISION).is_file()
    assert record["crops"]["train"]["n"] + record["crops"]["val"]["n"] + record["crops"]["test"]["n"] == 44
    assert 0 <= record["test"]["overall"]["roc_auc"] <= 1
    capsys.readouterr()
    assert main(args) == 0  # resumes at the end: nothing more to train, same schedule
    assert "resuming at step" in capsys.readouterr().err
    assert json.loads((out / "record.json").read_text())["steps"] == record["steps"]

    merged = tmp_path / "merged"
    assert (
        main(
            [
                "vision-apply",
                "--checkpoint",
                str(tiny_checkpoint),
                "--vision",
                str(out / VISION),
                "--out",
                str(merged),
            ]
        )
        == 0
    )
    from safetensors.torch import load_file
    from transformers import Idefics3ForConditionalGeneration

    model = Idefics3ForConditionalGeneration.from_pretrained(merged)
    trained = load_file(str(out / VISION))
    patch = model.model.vision_model.embeddings.patch_embedding.weight
    assert torch.equal(patch, trained["model.vision_model.embeddings.patch_embedding.weight"])
    # A half-precision copy (how the shipped stage-1 weights are kept) goes in at the checkpoint's type.
    from safetensors.torch import save_file

    half = out / "vision.f16.safetensors"
    save_file({k: v.half().contiguous() for k, v in trained.items()}, str(half))
    again = tmp_path / "merged-f16"
    assert (
        main(
            ["vision-apply", "--checkpoint", str(tiny_checkpoint), "--vision", str(half), "--out", str(again)]
        )
        == 0
    )
    merged_half = load_file(str(again / "model.safetensors"))[
        "model.vision_model.embeddings.patch_embedding.weight"
    ]
    assert merged_half.dtype == torch.float32 and torch.equal(merged_half, patch.detach().half().float())
    before = load_file(str(tiny_checkpoint / "model.safetensors"))
    assert not torch.equal(before["model.vision_model.embeddings.patch_embedding.weight"], patch)


def test_a_stage_continues_from_an_earlier_stages_weights(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--init-from``: the tower and head start as the earlier stage left them (no DCT start, the
    embedding trained from the first step); a file of another shape is one clear error."""
    from safetensors.torch import load_file, save_file

    manifest = _crops(tmp_path)
    base = ["vision-train", "--checkpoint", str(tiny_checkpoint), "--data", str(manifest), "--threads", "1"]
    first = tmp_path / "first"
    assert main([*base, "--out", str(first), "--minutes", "0.03"]) == 0
    earlier = load_file(str(first / VISION))
    capsys.readouterr()
    second = tmp_path / "second"
    args = [*base, "--out", str(second), "--minutes", "0.03", "--init-from", str(first / VISION)]
    assert main([*args, "--learning-rate", "0"]) == 0  # no step size: what it starts from is kept
    said = capsys.readouterr().err
    assert "tower and head from" in said and "whitened DCT" not in said
    kept = load_file(str(second / VISION))
    assert set(kept) == set(earlier) and all(torch.equal(kept[k], earlier[k]) for k in earlier)

    moved = tmp_path / "moved"
    assert main([*base, "--out", str(moved), "--minutes", "0.03", "--init-from", str(first / VISION)]) == 0
    after = load_file(str(moved / VISION))
    name = "model.vision_model.embeddings.patch_embedding.weight"
    assert not torch.equal(after[name], earlier[name])  # the embedding trains from the first step

    wrong = tmp_path / "wrong.safetensors"
    save_file({**earlier, "head.weight": torch.zeros(1, 3)}, str(wrong))
    assert main([*base, "--out", str(tmp_path / "third"), "--init-from", str(wrong)]) == 2
    assert "does not match this checkpoint's shape" in capsys.readouterr().err


def test_no_warm_up_is_a_constant_start_then_the_cosine() -> None:
    from train.model.vision.stage import StageConfig, _lr

    config = StageConfig(learning_rate=1e-3, warmup_steps=0)
    assert _lr(0, 0, config) == 1e-3  # before the schedule is fixed
    assert _lr(0, 100, config) == pytest.approx(1e-3) and _lr(100, 100, config) == pytest.approx(1e-4)
    with pytest.raises(SystemExit) as refused:  # argparse's usage error, before anything loads
        main(["vision-train", "--checkpoint", "c", "--data", "d", "--out", "o", "--warmup-steps", "-1"])
    assert refused.value.code == 2


def test_a_fixed_number_of_steps_whatever_the_time(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """``--steps``: the plan is that many steps, not the time budget's (which would allow many more
    here), so two recipes compare at equal steps on machines of different speeds."""
    manifest = _crops(tmp_path)
    out = tmp_path / "fixed"
    args = ["vision-train", "--checkpoint", str(tiny_checkpoint), "--data", str(manifest)]
    assert main([*args, "--out", str(out), "--threads", "1", "--minutes", "5", "--steps", "7"]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["steps"] == record["planned_steps"] == 7
