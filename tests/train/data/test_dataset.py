from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fakescope_cli.errors import DatasetError
from tests.train.conftest import write_folder
from train.data.dataset import hash_split, load_dataset

ImageSets = tuple[list[Image.Image], list[Image.Image]]


def test_folder_layout_labels_generators_and_hash_splits(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    records = load_dataset(root)
    assert len(records) == 24
    assert sum(r.label == "real" for r in records) == 12
    assert {r.generator for r in records if r.label == "fake"} == {"sd15", "flux"}
    assert all(r.generator is None for r in records if r.label == "real")
    for record in records:
        assert record.split == hash_split(record.path.relative_to(root.resolve()).as_posix())
    assert records == load_dataset(root)  # deterministic


def test_hash_split_is_roughly_80_10_10() -> None:
    splits = [hash_split(f"img{i}.png") for i in range(2000)]
    assert 0.76 < splits.count("train") / 2000 < 0.84
    assert 0.07 < splits.count("val") / 2000 < 0.13


def test_split_folders_below_and_above(tmp_path: Path, image_sets: ImageSets) -> None:
    below = load_dataset(write_folder(tmp_path / "below", image_sets, splits=True))
    assert [r.split for r in below].count("train") == 16
    assert {r.path.parent.name for r in below if r.split == "val"} == {"val"}

    above = tmp_path / "above"
    for record in below:
        inner = record.path.relative_to((tmp_path / "below").resolve())
        parts = [p for p in inner.parts if p not in ("train", "val", "test")]
        target = above / record.split / Path(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(record.path.read_bytes())
    loaded = load_dataset(above)
    assert sorted((r.label, r.generator, r.split, r.path.name) for r in loaded) == sorted(
        (r.label, r.generator, r.split, r.path.name) for r in below
    )


def test_csv_and_jsonl_manifests(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    (root / "m.csv").write_text(
        "path,label,generator,source,split\n"
        "real/r00.jpg,real,,skimage,test\n"
        "fake/sd15/f00.jpg,fake,SD15,made here,\n"
    )
    records = load_dataset(root / "m.csv", generators=["sd15", "flux"])
    assert [(r.label, r.generator, r.source) for r in records] == [
        ("real", None, "skimage"),
        ("fake", "sd15", "made here"),
    ]
    assert records[0].split == "test" and records[0].path == (root / "real" / "r00.jpg").resolve()
    assert records[1].split == hash_split("fake/sd15/f00.jpg")

    lines = [
        {"path": str((root / "real" / "r01.jpg").resolve()), "label": "real"},
        {"path": "fake/flux/f01.jpg", "label": "fake", "generator": "flux", "split": "val"},
    ]
    (root / "m.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    records = load_dataset(root / "m.jsonl")
    assert [(r.label, r.generator, r.split) for r in records][1] == ("fake", "flux", "val")


@pytest.mark.parametrize(
    ("manifest", "text", "message"),
    [
        ("m.csv", "path,label\nreal/r00.jpg,\n", "m.csv:2: missing label"),
        ("m.csv", "path,lable\nreal/r00.jpg,real\n", "unknown column 'lable'"),
        ("m.csv", "path,label\nreal/r00.jpg,maybe\n", "m.csv:2: label 'maybe' is not real or fake"),
        ("m.csv", "path,label\nnowhere.jpg,real\n", "m.csv:2: no such image file 'nowhere.jpg'"),
        ("m.csv", "path,label,generator\nreal/r00.jpg,real,sd15\n", "a real image has no generator"),
        ("m.csv", "path,label,split\nreal/r00.jpg,real,dev\n", "split 'dev' is not one of"),
        ("m.jsonl", '{"path": "fake/sd15/f00.jpg", "label": "fake", "generator": "dalle9"}\n', "m.jsonl:1"),
        ("m.jsonl", '{"path": "real/r00.jpg", "label": "real", "splt": "val"}\n', "unknown field 'splt'"),
        ("m.jsonl", '{"path": "real/r00.jpg", "label": "real"}\n{oops\n', "m.jsonl:2: not valid JSON"),
    ],
)
def test_bad_manifests_name_file_and_line(
    tmp_path: Path, image_sets: ImageSets, manifest: str, text: str, message: str
) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    (root / manifest).write_text(text)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")) as caught:
        load_dataset(root / manifest, generators=["sd15", "flux"])
    assert str(root / manifest) in str(caught.value)


def test_unknown_generator_folder_is_named(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets, generators=("sd15", "dalle9"))
    with pytest.raises(DatasetError, match=r"fake/dalle9: unknown generator 'dalle9'; allowed: flux, sd15"):
        load_dataset(root, generators=["sd15", "flux"])


def test_unreadable_image_is_named(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    broken = root / "real" / "broken.png"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"broken\.png: unreadable image"):
        load_dataset(root)
    broken.rename(root / "real" / "._broken.png")  # hidden files (macOS resource forks) are skipped
    assert len(load_dataset(root)) == 24
    eps = root / "real" / "figure.tif"  # an EPS named like an image never reaches the EPS decoder
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    with pytest.raises(DatasetError, match=r"figure\.tif: unreadable image"):
        load_dataset(root)


def test_layout_mistakes(tmp_path: Path, image_sets: ImageSets) -> None:
    root = write_folder(tmp_path / "data", image_sets)
    (root / "fake" / "stray.png").write_bytes((root / "fake" / "sd15" / "f00.jpg").read_bytes())
    with pytest.raises(DatasetError, match=r"stray\.png: fake images go in fake/<generator>/"):
        load_dataset(root)
    (root / "fake" / "stray.png").unlink()
    (root / "train").mkdir()
    with pytest.raises(DatasetError, match="both split folders"):
        load_dataset(root)
    with pytest.raises(DatasetError, match="expected real/ and fake/"):
        load_dataset(tmp_path / "data" / "train")
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "empty" / "real").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path / "empty")
