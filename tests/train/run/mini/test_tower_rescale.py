"""The stage-1 resolution check on the tiny random checkpoint: mechanics, not detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.conftest import write_test_image
from train.model.vision.stage import VISION_PREFIX, TileClassifier, _vision_tower, blurred
from train.run.mini.tower_rescale import main


def _stage(checkpoint: Path, folder: Path) -> Path:
    """The tiny checkpoint's (untrained) tower and head, saved as a vision stage."""
    from safetensors.torch import save_file

    vision, hidden, _, _ = _vision_tower(checkpoint)
    model = TileClassifier(vision, hidden)
    weights = {VISION_PREFIX + k: v.contiguous() for k, v in model.vision.state_dict().items()}
    weights |= {"head." + k: v.contiguous() for k, v in model.head.state_dict().items()}
    stage = folder / "vision.safetensors"
    save_file(weights, str(stage))
    return stage


def _photos(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    for i in range(n):
        write_test_image(folder / f"p{i}.png", size=(200, 150), seed=i)
    return folder


def test_a_towers_flags_are_counted_at_each_size(tiny_checkpoint: Path, tmp_path: Path) -> None:
    stage = _stage(tiny_checkpoint, tmp_path)
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "check.json"
    main([str(photos), "--checkpoint", str(tiny_checkpoint), "--vision", str(stage), "--crop-size", "64",
          "--out", str(out)])  # fmt: skip
    figures = json.loads(out.read_text())["towers"][str(stage)]
    assert set(figures) == {"x1", "x2"} and all(0 <= f["flagged"] <= 3 for f in figures.values())
    assert figures["x1"]["mean_logit"] != figures["x2"]["mean_logit"]  # the sizes were really scored

    from tests.train.model.test_vision_stage import _crops

    crops = tmp_path / "crops"
    crops.mkdir()
    manifest = _crops(crops)
    main([str(photos), "--checkpoint", str(tiny_checkpoint), "--vision", str(stage), "--crop-size", "64",
          "--test-crops", str(manifest), "--out", str(out)])  # fmt: skip
    record = json.loads(out.read_text())
    assert record["test_crops"]["n"] == 12  # the manifest's test split
    scored = record["towers"][str(stage)]
    assert 0 <= scored["test_auc"] <= 1 and set(scored["test_auc_per_family"]) == {"nn"}
    assert 0 <= scored["x1_flagged_at_test_fpr5"] <= 3 and 0 <= scored["x1_vs_test_fakes_auc"] <= 1


def test_whole_test_images_are_ranked_by_the_tower_alone(tiny_checkpoint: Path, tmp_path: Path) -> None:
    stage = _stage(tiny_checkpoint, tmp_path)
    photos = _photos(tmp_path / "photos", 1)
    images = tmp_path / "test"
    images.mkdir()
    rows = ["path,label,generator,source,split"]
    for i, (label, generator) in enumerate([("real", ""), ("real", ""), ("fake", "nn"), ("fake", "other")]):
        write_test_image(images / f"t{i}.png", size=(160, 128), seed=10 + i)
        rows.append(f"t{i}.png,{label},{generator},src/{i},test")
    (images / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "check.json"
    main([str(photos), "--checkpoint", str(tiny_checkpoint), "--vision", str(stage), "--crop-size", "64",
          "--test-images", str(images / "manifest.csv"), "--train-generators", "nn",
          "--out", str(out)])  # fmt: skip
    record = json.loads(out.read_text())
    assert record["test_images"]["n"] == 4
    aucs = record["towers"][str(stage)]["test_image_auc"]
    assert set(aucs) == {"all", "seen", "held_out"} and all(0 <= v <= 1 for v in aucs.values())


def test_image_aucs_split_the_fakes_by_family_and_keep_every_real() -> None:
    from train.data.records import ImageRecord
    from train.run.mini.tower_rescale import image_aucs

    records = [
        ImageRecord(Path("r0.png"), "real", "test"),
        ImageRecord(Path("r1.png"), "real", "test"),
        ImageRecord(Path("f0.png"), "fake", "test", "nn"),
        ImageRecord(Path("f1.png"), "fake", "test", "other"),
    ]
    logits = [0.0, 2.0, 3.0, 1.0]  # the seen fake above both reals, the other between
    assert image_aucs(records, logits, {"nn"}) == {"all": 0.75, "seen": 1.0, "held_out": 0.5}


def test_own_size_photographs_are_placed_at_the_test_sets_operating_point() -> None:
    from train.run.mini.tower_rescale import against_test

    reals = np.arange(100, dtype=float)  # the 95th percentile: 94.05
    fakes = np.array([90.0, 95.0, 200.0, 300.0])
    labels = np.r_[np.zeros(100), np.ones(4)]
    figures = against_test([50.0, 94.5, 96.0], np.concatenate([reals, fakes]), labels)
    assert figures["test_real_fpr5_logit"] == 94.05 and figures["x1_flagged_at_test_fpr5"] == 2
    assert figures["test_tpr_at_fpr5"] == 0.75
    assert figures["x1_vs_test_fakes_auc"] == round(9 / 12, 4)  # 9 of the 12 pairs have the fake above


def test_blur_changes_the_share_asked_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8)
    before = tiles.copy()
    assert blurred(tiles, 0.0, np.random.default_rng(1)) is tiles  # no draw: old runs replay the same
    half = blurred(tiles, 0.5, np.random.default_rng(1))
    changed = [not np.array_equal(a, b) for a, b in zip(tiles, half, strict=True)]
    assert 16 <= sum(changed) <= 48

    def roughness(tile: np.ndarray) -> float:
        return float(np.abs(np.diff(tile.astype(int), axis=0)).mean())

    assert all(roughness(half[i]) < roughness(tiles[i]) for i in range(64) if changed[i])
    assert np.array_equal(tiles, before)  # the input is left as it was
