"""A package that trains but never tests: its test rows leave, everything else stays."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from train.run.mini.train_only import train_only

FIELDS = ["path", "label", "package", "split"]
ROWS = [
    ["train/a.jpg", "0", "kept-pkg", "train"],
    ["test/b.jpg", "1", "kept-pkg", "test"],
    ["train/c.jpg", "0", "moved-pkg", "train"],
    ["test/d.jpg", "1", "moved-pkg", "test"],
    ["val/e.jpg", "0", "moved-pkg", "val"],
]


def _manifest(root: Path) -> Path:
    path = root / "manifest.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(ROWS)
    return path


def test_only_the_named_packages_test_rows_are_dropped(tmp_path: Path) -> None:
    source = _manifest(tmp_path)
    out = tmp_path / "manifest-train-only.csv"
    counts = train_only(source, out, frozenset({"moved-pkg"}))
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["path"] for r in rows] == ["train/a.jpg", "test/b.jpg", "train/c.jpg"]
    assert list(rows[0]) == FIELDS
    assert counts == {"train": 2, "test": 1, "dropped": 2}
    assert not (tmp_path / "manifest-train-only.csv.part").exists()


def test_the_output_must_sit_beside_the_source(tmp_path: Path) -> None:
    source = _manifest(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ValueError, match="beside"):
        train_only(source, tmp_path / "elsewhere" / "m.csv", frozenset({"moved-pkg"}))


def test_a_manifest_without_packages_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "manifest.csv"
    source.write_text("path,label,split\na.jpg,0,train\n")
    with pytest.raises(ValueError, match="package"):
        train_only(source, tmp_path / "out.csv", frozenset({"x"}))
