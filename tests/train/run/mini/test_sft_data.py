"""The CPU run's SFT data: the crop manifest as a standard one, and the mix of FakeInstruct."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fakescope_cli.errors import DatasetError
from tests.conftest import write_test_image
from train.data.dataset import load_dataset
from train.model.vision.crops import val_photo
from train.run.mini.sft_data import mix_items, standard_manifest

CROP_FIELDS = ["path", "label", "family", "photo_id", "package", "split"]


def _crops(folder: Path) -> Path:
    rows = []
    for n in range(24):
        family = ("real", "esrgan-av3-x2", "ae-tiny")[n % 3]
        split = "test" if n >= 18 else "train"
        name = f"{split}/{family}/p{n // 3}-{n:02d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        write_test_image(folder / name, seed=n)
        package = "held-out-pkg" if n in (3, 4, 5) else "pkg"
        rows.append([name, int(family != "real"), family, f"pkg/p{n // 3}", package, split])
    path = folder / "manifest.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CROP_FIELDS)
        writer.writerows(rows)
    return path


def test_standard_manifest_keeps_labels_families_and_the_vision_stages_validation_photos(
    tmp_path: Path,
) -> None:
    crops = _crops(tmp_path / "crops")
    out = tmp_path / "std" / "manifest.csv"
    counts = standard_manifest(crops, out, frozenset({"held-out-pkg"}), val_fraction=0.3, seed=0)
    records = load_dataset(out)
    assert len(records) == 21 == sum(counts.values())  # the held-out package's 3 crops left out
    assert not any("p1-" in r.path.name for r in records)
    for record in records:
        photo = f"pkg/{record.path.name.split('-')[0]}"
        assert record.source == photo
        assert record.label == ("real" if "/real/" in str(record.path) else "fake")
        assert record.generator == (None if record.label == "real" else record.path.parent.name)
        if "/test/" in str(record.path):
            assert record.split == "test"
        else:
            assert record.split == ("val" if val_photo(photo, 0, 0.3) else "train")
    assert {r.split for r in records} == {"train", "val", "test"}  # the fixture's photos hit all three


def test_standard_manifest_names_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text("path,label,split\na.png,0,train\n")
    with pytest.raises(DatasetError, match="no column 'family'"):
        standard_manifest(path, tmp_path / "out.csv")


def _item(family: str, label: str, split: str, n: int) -> dict:
    return {"id": f"{family}-{label}-{n}", "family": family, "label": label, "split": split}


def test_mix_keeps_every_judgment_and_a_balanced_bounded_share_of_the_rest() -> None:
    items = [_item("absolute", "real", "train", n) for n in range(30)]
    items += [_item("absolute", "fake", "train", n) for n in range(20)]
    items += [_item("absolute", "fake", "val", n) for n in range(5)]
    items += [_item("holistic", "fake", "train", n) for n in range(40)]
    items += [_item("holistic", "real", "train", n) for n in range(3)]
    items += [_item("discussion", "real", "train", n) for n in range(10)]
    mixed = mix_items(items, others_per_family=10, seed=1)
    families = [i["family"] for i in mixed]
    assert families.count("absolute") == 50 and all(i["split"] == "train" for i in mixed)
    holistic = [i for i in mixed if i["family"] == "holistic"]
    assert len(holistic) == 10 and sum(i["label"] == "real" for i in holistic) == 3  # all 3 reals
    assert families.count("discussion") == 10
    assert mix_items(items, 10, seed=1) == mixed and mix_items(items, 10, seed=2) != mixed
