"""``process``: identical processing of both classes, shown with the validator's shortcut check."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, PngImagePlugin

from tests.fakescope_cli.evidence.builders import SAMPLES
from tests.train.data.photos.conftest import photo_cache, photo_deb, photo_pool  # noqa: F401 - fixtures
from train.cli import main
from train.data.dataset import load_dataset
from train.data.photos.crops import make_crops
from train.data.validate import SHORTCUT_AUC, validate_dataset

NAMES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
FAKES_PER_FAMILY = 12


def stand_in_fake(index: int) -> Image.Image:
    """A "generated" stand-in: another crop of a sample, blurred, at a size no real crop has."""
    with Image.open(SAMPLES / NAMES[index % 4]) as source:
        image = source.convert("RGB")
    width, height = 150 + 4 * (index % 5), 112 + 2 * (index % 3)
    x, y = (index * 23) % (image.width - width), (index * 17) % (image.height - height)
    return image.crop((x, y, x + width, y + height)).filter(ImageFilter.GaussianBlur(0.6))


@pytest.fixture(scope="module")
def raw(photo_pool: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """Reals: 96 px PNG crops of the sample photos (split by photo); fakes: PNG at other sizes,
    some with metadata and an alpha channel, in two families."""
    root = tmp_path_factory.mktemp("raw")
    make_crops(photo_pool, root / "crops", size=96, per_photo=8, seed=0, ratios=(80, 10, 10))
    for family, offset in (("sd15", 0), ("flux", 100)):
        folder = root / family
        folder.mkdir()
        for index in range(FAKES_PER_FAMILY):
            image = stand_in_fake(index + offset)
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", "a photo of a cat, Steps: 20")
            if index % 3 == 0:
                image = image.convert("RGBA")
            image.save(folder / f"img{index:02d}.png", pnginfo=info)
    return root


def _process(raw: Path, out: Path, *extra: str) -> list[str]:
    return [
        "process",
        "--real",
        str(raw / "crops"),
        "--fake",
        f"sd15={raw / 'sd15'}",
        "--fake",
        f"flux={raw / 'flux'}",
        "--out",
        str(out),
        "--size",
        "96",
        "--quality",
        "70:95",
        "--seed",
        "5",
        *extra,
    ]


def test_validator_flags_the_raw_set_and_not_the_processed_one(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tmp_path / "before"
    (before / "real").mkdir(parents=True)
    for crop in (raw / "crops").glob("*.png"):
        (before / "real" / crop.name).write_bytes(crop.read_bytes())
    for family in ("sd15", "flux"):
        (before / "fake" / family).mkdir(parents=True)
        for image in (raw / family).glob("*.png"):
            (before / "fake" / family / image.name).write_bytes(image.read_bytes())
    report = validate_dataset(load_dataset(before))
    assert report.separability["width"] == 1.0 and report.combined_auc is not None
    assert report.combined_auc >= SHORTCUT_AUC  # the control: the check can fail
    assert any(w.startswith("shortcut: width alone") for w in report.warnings)

    assert main(_process(raw, tmp_path / "data")) == 0
    assert "process: 56 images" in capsys.readouterr().err
    after = validate_dataset(load_dataset(tmp_path / "data"))
    assert not [w for w in after.warnings if w.startswith("shortcut")], after.warnings
    measured = {k: v for k, v in after.separability.items() if v is not None}
    assert set(measured) == {"format", "jpeg_quality", "width", "height", "aspect", "file_size"}
    assert max(measured.values()) < SHORTCUT_AUC and after.combined_auc is not None
    assert after.combined_auc < SHORTCUT_AUC
    assert after.formats == {"real": {"JPEG": 32}, "fake": {"JPEG": 24}}


def test_layout_counts_splits_and_holdout(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    assert main(_process(raw, out, "--holdout", "flux")) == 0
    text = capsys.readouterr().err
    table = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}
    assert table["fake/flux"] == ["0", "0", "12"] and sum(map(int, table["fake/sd15"])) == 12
    with (out / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 56 and list(rows[0]) == ["path", "label", "generator", "source", "split"]
    for row in rows:
        label, generator, split = row["label"], row["generator"], row["split"]
        expected = f"{split}/real/" if label == "real" else f"{split}/fake/{generator}/"
        assert row["path"].startswith(expected) and (out / row["path"]).is_file()
        if generator == "flux":
            assert split == "test"
    crops = {r["path"]: r for r in csv.DictReader((raw / "crops" / "manifest.csv").open(newline=""))}
    reals = [r for r in rows if r["label"] == "real"]
    for row in reals:  # reals keep the split of their source photo
        photo_id, name = row["source"].split(":")
        assert crops[name]["split"] == row["split"] and crops[name]["photo_id"] == photo_id
    assert {r["split"] for r in rows if r["generator"] == "sd15"} <= {"train", "val", "test"}
    records = load_dataset(out)
    assert sorted(r.split for r in records) == sorted(r["split"] for r in rows)
    assert {r.generator for r in records if r.label == "fake"} == {"sd15", "flux"}


def test_every_output_is_the_same_kind_of_file_and_runs_are_deterministic(raw: Path, tmp_path: Path) -> None:
    assert main(_process(raw, tmp_path / "a")) == 0
    assert main(_process(raw, tmp_path / "b")) == 0
    digests = [
        {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*.*")
        }
        for root in (tmp_path / "a", tmp_path / "b")
    ]
    assert digests[0] == digests[1] and len(digests[0]) == 57
    qualities = set()
    for path in (tmp_path / "a").rglob("*.jpg"):
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (96, 96))
            assert image.layer == [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]  # 4:2:0 for both classes
            assert not {"exif", "icc_profile", "parameters", "xmp", "comment"} & set(image.info)
            qualities.add(tuple(image.quantization[0][:4]))
    assert len(qualities) > 5  # the quality varies


def test_sixteen_bit_and_alpha_inputs(tmp_path: Path) -> None:
    real = tmp_path / "real"
    fake = tmp_path / "fake"
    real.mkdir()
    fake.mkdir()
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(ramp).save(real / "deep.png")
    Image.new("RGBA", (64, 64), (255, 0, 0, 128)).save(fake / "half.png")
    out = tmp_path / "data"
    assert (
        main(["process", "--real", str(real), "--fake", f"x={fake}", "--out", str(out), "--quality", "95"])
        == 0
    )
    deep = next(out.rglob("deep-*.jpg"))
    with Image.open(deep) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.int16)
    assert pixels[0, 0] < 10 and pixels[-1, -1] > 240  # scaled from 16 bits, not clipped
    with Image.open(next(out.rglob("half-*.jpg"))) as image:
        red = np.asarray(image)[32, 32]
    assert 120 < red[0] < 136 and red[1] < 8  # composited on black


def test_process_errors_are_one_line(raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = str(tmp_path / "data")
    argv = ["process", "--real", str(raw / "crops"), "--out", out]
    assert main([*argv, "--fake", f"sd15={broken}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken / 'bad.png'}: unreadable image") and err.count("\n") == 1
    assert not Path(out).exists() and not list(tmp_path.glob(".data.*"))
    assert main([*argv, "--fake", f"sd15={raw / 'sd15'}", "--holdout", "flux"]) == 2
    assert "--holdout 'flux' is not one of the --fake families" in capsys.readouterr().err
    assert main([*argv, "--fake", str(raw / "sd15")]) == 2
    assert "expected FAMILY=DIR" in capsys.readouterr().err
    assert main([*argv, "--fake", f"sd15={raw / 'sd15'}", "--quality", "95:70"]) == 2
    assert "1 <= LO <= HI <= 100" in capsys.readouterr().err
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,split\nnowhere.png,train\n")
    assert main(["process", "--real", str(manifest), "--fake", f"sd15={raw / 'sd15'}", "--out", out]) == 2
    assert f"error: {manifest}:2: no such image file 'nowhere.png'" in capsys.readouterr().err


def test_a_generated_folder_manifest_fixes_each_image_split(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-synthesised photos follow their source photo's split (given in the folder's manifest)."""
    fakes = tmp_path / "resynth"
    fakes.mkdir()
    names = sorted(p.name for p in (raw / "sd15").iterdir())
    for name in names:
        (fakes / name).write_bytes((raw / "sd15" / name).read_bytes())
    wanted = {name: ("val", "test")[i % 2] for i, name in enumerate(names)}
    (fakes / "manifest.csv").write_text("path,split\n" + "".join(f"{n},{s}\n" for n, s in wanted.items()))
    out = tmp_path / "data"
    assert main(["process", "--real", str(raw / "crops"), "--fake", f"sd15={fakes}", "--out", str(out)]) == 0
    rows = [r for r in csv.DictReader((out / "manifest.csv").open(newline="")) if r["label"] == "fake"]
    assert {r["source"].split("/", 1)[1]: r["split"] for r in rows} == wanted
    capsys.readouterr()
    (fakes / "manifest.csv").write_text("path,split\n" + f"{names[0]},test\n")
    assert (
        main(
            [
                "process",
                "--real",
                str(raw / "crops"),
                "--fake",
                f"sd15={fakes}",
                "--out",
                str(tmp_path / "d2"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: {fakes / 'manifest.csv'}: no split for '{names[1]}'") and err.count("\n") == 1
    )


def test_native_crops_are_never_resized_and_small_sources_are_skipped(tmp_path: Path) -> None:
    """``--size`` cuts an exact native crop for both classes (the crops view of the CLI); a
    source smaller than the crop is skipped and counted, never enlarged."""
    from train.data.process import Item, process

    rng = np.random.default_rng(0)
    items = []
    for i, (label, size) in enumerate(
        [("real", (90, 70)), ("real", (40, 200)), ("fake", (64, 64)), ("fake", (30, 30))]
    ):
        path = tmp_path / f"{label}{i}.png"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        items.append(Item(path, label, None if label == "real" else "gen", f"k{i}", "train"))
    report = process(items, tmp_path / "data", seed=0, quality=(95, 95), size=64)
    assert report.skipped == {"real": 1, "fake": 1} and report.images == 2
    assert report.enlarged == {"real": 0, "fake": 0}
    written = sorted((tmp_path / "data").rglob("*.jpg"))
    assert len(written) == 2
    for path in written:
        with Image.open(path) as image:
            assert image.size == (64, 64)
    # The crop is the source's own pixels (up to JPEG q95): it matches one position exactly.
    real = np.asarray(
        Image.open(next(p for p in written if "/real/" in p.as_posix())).convert("L"), dtype=float
    )
    source = np.asarray(Image.open(tmp_path / "real0.png").convert("L"), dtype=float)  # luma: 4:2:0 keeps it
    errors = [
        np.abs(source[y : y + 64, x : x + 64] - real).mean() for y in range(70 - 63) for x in range(90 - 63)
    ]
    assert min(errors) < 12 < sorted(errors)[1]  # one position fits; its neighbours do not
