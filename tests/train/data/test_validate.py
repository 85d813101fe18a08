from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.errors import DatasetError
from tests.train.conftest import write_folder
from train.data.dataset import load_dataset
from train.data.shortcut import auc, cross_validated_auc, separability
from train.data.validate import near_pairs, validate_dataset

ImageSets = tuple[list[Image.Image], list[Image.Image]]


def test_png_fakes_and_jpeg_reals_warn_about_the_format_shortcut(
    tmp_path: Path, image_sets: ImageSets
) -> None:
    root = write_folder(tmp_path / "data", image_sets, real_format="JPEG", fake_format="PNG", splits=True)
    report = validate_dataset(load_dataset(root))
    assert report.separability["format"] == 1.0
    assert report.combined_auc is not None and report.combined_auc >= 0.75
    assert report.formats == {"real": {"JPEG": 12}, "fake": {"PNG": 12}}
    assert report.separability["jpeg_quality"] is None  # only one class has JPEGs
    assert any(w.startswith("shortcut: format alone") and "real JPEG 12" in w for w in report.warnings)
    assert any(w.startswith("shortcut: a classifier") for w in report.warnings)
    data = report.to_dict()
    assert data["shortcut_threshold"] == 0.75 and data["warnings"] == report.warnings


def test_identical_jpeg_processing_gives_no_warning(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets, real_format="JPEG", fake_format="JPEG", splits=True)
    report = validate_dataset(load_dataset(root))
    assert report.warnings == []
    assert report.separability["format"] == 0.5
    assert report.separability["jpeg_quality"] == 0.5
    assert report.separability["width"] == 0.5 and report.separability["height"] == 0.5
    assert report.counts["test"] == {"real": 2, "fake": 2}
    assert report.generators == {
        "flux": {"train": 4, "val": 0, "test": 2},
        "sd15": {"train": 4, "val": 2, "test": 0},
    }


def test_jpeg_quality_and_size_shortcuts(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets, splits=True)
    records = load_dataset(root)
    for record in records:  # fakes re-saved at quality 75 and enlarged: two shortcuts
        if record.label == "fake":
            with Image.open(record.path) as image:
                image.convert("RGB").resize((image.width + 64, image.height + 64)).save(
                    record.path, quality=75
                )
    report = validate_dataset(records)
    assert report.separability["jpeg_quality"] == 1.0
    assert any("shortcut: jpeg quality alone" in w for w in report.warnings)
    assert report.separability["width"] is not None and report.separability["width"] > 0.75


def test_near_duplicates_across_splits_and_label_conflicts(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets, splits=True)
    records = load_dataset(root)
    original = next(r for r in records if r.label == "real" and r.split == "train")
    copy = root / "real" / "test" / "copy.jpg"
    with Image.open(original.path) as image:  # re-saved at another quality: same picture, new bytes
        image.save(copy, quality=70)
    conflict = root / "fake" / "sd15" / "train" / "relabelled.jpg"
    conflict.write_bytes(original.path.read_bytes())
    report = validate_dataset(load_dataset(root))
    pairs = {(Path(d.path_a).name, Path(d.path_b).name) for d in report.duplicates}
    assert any(original.path.name in pair and "copy.jpg" in pair for pair in pairs)
    assert all(d.split_a != d.split_b and d.distance <= 4 for d in report.duplicates)
    assert any(
        {Path(d.path_a).name, Path(d.path_b).name} == {original.path.name, "relabelled.jpg"}
        for d in report.label_conflicts
    )
    assert any("near-duplicate pair(s) across splits" in w for w in report.warnings)
    assert any("with different labels" in w for w in report.warnings)


def test_balance_warnings_and_small_sets(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets, splits=True)
    records = load_dataset(root)
    reals = [r for r in records if r.label == "real"]
    fakes = [r for r in records if r.label == "fake"]
    report = validate_dataset(reals + fakes[:4])
    assert any(w.startswith("class imbalance: 12 real vs 4 fake") for w in report.warnings)
    assert any("too few images of one class" in w for w in report.warnings)
    assert report.combined_auc is None
    only_val = [replace(r, split="val") if r.generator == "flux" else r for r in records]
    assert "generator flux has no training images" in validate_dataset(only_val).warnings


def test_unreadable_image_names_the_file(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    records = load_dataset(root)
    data = records[0].path.read_bytes()
    records[0].path.write_bytes(data[: len(data) // 3])  # truncated: header fine, pixels not
    with pytest.raises(DatasetError, match=records[0].path.name):
        validate_dataset(records)
    with pytest.raises(DatasetError, match="no images"):
        validate_dataset([])


def test_auc_and_cross_validated_classifier() -> None:
    labels = np.array([False] * 20 + [True] * 20)
    assert auc(np.arange(40.0), labels) == 1.0
    assert auc(-np.arange(40.0), labels) == 0.0
    assert separability(-np.arange(40.0), labels) == 1.0
    assert auc(np.ones(40), labels) == 0.5
    assert auc(np.arange(4.0), np.array([True] * 4)) is None
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(40, 3))
    assert cross_validated_auc(noise, labels) < 0.75  # type: ignore[operator]
    signal = np.column_stack([labels + rng.normal(0, 0.1, 40), noise])
    assert cross_validated_auc(signal, labels) > 0.95  # type: ignore[operator]


def test_near_pairs_hamming() -> None:
    hashes = np.array([0, 0b1111, 0b11111, 2**63 - 1], dtype=np.uint64)
    assert near_pairs(hashes, 4) == [(0, 1, 4), (1, 2, 1)]
    assert near_pairs(hashes, 4, block=1) == [(0, 1, 4), (1, 2, 1)]


def test_quality_is_read_from_the_quantization_tables(tmp_path: Path, image_sets: ImageSets) -> None:
    from train.data.records import ImageRecord
    from train.data.validate import file_facts

    path = tmp_path / "q.jpg"
    buffer = io.BytesIO()
    image_sets[0][0].save(buffer, format="JPEG", quality=83)
    path.write_bytes(buffer.getvalue())
    facts = file_facts(ImageRecord(path, "real", "train"))
    assert (facts.format, facts.jpeg_quality, facts.width) == ("JPEG", 83, image_sets[0][0].width)
