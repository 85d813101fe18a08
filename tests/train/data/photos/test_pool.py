from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.train.data.photos.conftest import PACKAGE
from train.cli import main
from train.data.photos.pool import build_pool, read_pool


def test_pool_files_and_sources_json(photo_pool: Path, photo_cache: Path) -> None:
    meta = json.loads((photo_pool / "sources.json").read_text())
    assert (meta["max_side"], meta["jpeg_quality"], meta["chroma_subsampling"]) == (400, 95, "4:4:4")
    photos = read_pool(photo_pool)
    assert sorted(p.id for p in photos) == sorted(
        f"{PACKAGE}/{name}" for name in ("astronaut", "chelsea", "coffee", "rocket")
    )
    fetched = {p["id"]: p for p in json.loads((photo_cache / "fetched.json").read_text())["photos"]}
    for photo in photos:
        data = (photo_pool / photo.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == photo.sha256 and len(data) == photo.size
        assert photo.original_sha256 == fetched[photo.id]["sha256"] and photo.version == "1:1.2-3"
        with Image.open(photo_pool / photo.file) as image:
            assert (
                image.format == "JPEG"
                and max(image.size) <= 400
                and image.size == (photo.width, photo.height)
            )
            assert not image.info.get("exif") and not image.info.get("icc_profile")
    chelsea = next(p for p in photos if p.id.endswith("chelsea"))
    assert (chelsea.width, chelsea.height) == (400, 266)  # 451x300 scaled to a 400 px longer side
    assert sum(p.size for p in photos) == meta["total_bytes"] <= meta["budget_bytes"]


def test_small_budget_shrinks_the_side_and_the_pool_is_deterministic(
    photo_cache: Path, tmp_path: Path
) -> None:
    first = build_pool(photo_cache, tmp_path / "a", max_side=512, budget_mb=0.2)
    assert first.max_side < 512 and first.total_bytes <= 0.2 * 2**20
    assert all(max(p.width, p.height) <= first.max_side for p in first.photos)
    second = build_pool(photo_cache, tmp_path / "b", max_side=512, budget_mb=0.2)
    assert [p.sha256 for p in first.photos] == [p.sha256 for p in second.photos]
    assert (tmp_path / "a" / "sources.json").read_bytes() == (tmp_path / "b" / "sources.json").read_bytes()


def test_pool_errors_are_one_line(
    photo_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    occupied = tmp_path / "mine"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    assert main(["photos-pool", "--cache", str(photo_cache), "--out", str(occupied)]) == 2
    assert "not empty and has no sources.json; refusing to replace it" in capsys.readouterr().err
    assert (occupied / "notes.txt").read_text() == "keep me"
    out = str(tmp_path / "pool")
    assert main(["photos-pool", "--cache", str(tmp_path / "nothing"), "--out", out]) == 2
    assert "fetched.json: no such file (run photos-fetch first)" in capsys.readouterr().err
    assert main(["photos-pool", "--cache", str(photo_cache), "--out", out, "--budget-mb", "0.001"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "do not fit in 0.001 MB" in err
    assert not Path(out).exists() and not list(tmp_path.glob(".pool.*"))
