from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train.cli import main
from train.data.imaging import open_rgb, resize
from train.data.photos.crops import make_crops
from train.data.splits import group_splits, hash_split, parse_splits


def _manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_crops_are_split_by_photo_and_deterministic(photo_pool: Path, tmp_path: Path) -> None:
    report = make_crops(photo_pool, tmp_path / "a", size=64, per_photo=5, seed=3, ratios=(80, 10, 10))
    rows = _manifest(tmp_path / "a")
    assert report.crops == len(rows) == 20 and report.photos == 4
    assert report.photos_per_split == {"train": 2, "val": 1, "test": 1}  # every split gets a photo
    splits_of: dict[str, set[str]] = {}
    for row in rows:
        splits_of.setdefault(row["photo_id"], set()).add(row["split"])
        with Image.open(tmp_path / "a" / row["path"]) as image:
            assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "RGB")
    assert all(len(splits) == 1 for splits in splits_of.values())  # no photo in two splits
    make_crops(photo_pool, tmp_path / "b", size=64, per_photo=5, seed=3, ratios=(80, 10, 10))
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (tmp_path / "b" / "manifest.csv").read_bytes()
    make_crops(photo_pool, tmp_path / "c", size=64, per_photo=5, seed=4, ratios=(80, 10, 10))
    assert _digests(tmp_path / "a") != _digests(tmp_path / "c")


def test_crops_downscale_the_photo_first(photo_pool: Path, tmp_path: Path) -> None:
    """At scale 1 the shorter side is brought down to the crop size: a crop of the square photo is the
    whole photo, resized (not a 64 px patch of it)."""
    make_crops(photo_pool, tmp_path / "one", 64, 1, seed=0, ratios=(1, 0, 0), scale_range=(1.0, 1.0))
    with Image.open(photo_pool / "fakescope-test-photos__astronaut.jpg") as photo:
        whole = resize(open_rgb(photo_pool / "fakescope-test-photos__astronaut.jpg"), 64, 64)
        assert photo.size == (400, 400)
    crop = open_rgb(tmp_path / "one" / "fakescope-test-photos__astronaut-000.png")
    assert np.array_equal(np.asarray(crop), np.asarray(whole))


@pytest.mark.parametrize(
    ("groups", "ratios", "expected"),
    [
        (10, (80, 10, 10), {"train": 8, "val": 1, "test": 1}),
        (3, (80, 10, 10), {"train": 1, "val": 1, "test": 1}),
        (7, (50, 50, 0), {"train": 4, "val": 3, "test": 0}),
        (1, (80, 10, 10), {"train": 1, "val": 0, "test": 0}),
    ],
)
def test_group_splits_counts(groups: int, ratios: tuple[int, int, int], expected: dict[str, int]) -> None:
    assigned = group_splits(0, [f"g{i}" for i in range(groups)], ratios)
    counts = {s: sum(1 for v in assigned.values() if v == s) for s in ("train", "val", "test")}
    assert counts == expected


def test_hash_split_follows_the_ratios() -> None:
    splits = [hash_split(1, f"k{i}", parse_splits("80,10,10")) for i in range(2000)]
    assert 1500 < splits.count("train") < 1700 and 120 < splits.count("test") < 280
    assert hash_split(1, "k0", (80, 10, 10)) == splits[0]


def test_crops_errors(photo_pool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "c")
    base = ["photos-crops", "--pool", str(photo_pool), "--out", out, "--per-photo", "1"]
    assert main([*base, "--size", "300"]) == 2
    assert "shorter side 266 px is below the crop size 300" in capsys.readouterr().err
    assert main([*base, "--splits", "80,20"]) == 2
    assert "error: --splits '80,20': expected three" in capsys.readouterr().err
    (photo_pool / "fakescope-test-photos__rocket.jpg").read_bytes()  # the pool is left untouched
    assert main(["photos-crops", "--pool", str(tmp_path), "--out", out, "--per-photo", "1"]) == 2
    assert "sources.json: no such file (run photos-pool first)" in capsys.readouterr().err
