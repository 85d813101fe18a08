from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.errors import DatasetError
from tests.train.generators.conftest import SIZE, write_crops
from train.generators.data import load_photos


def test_crops_load_in_name_order_hidden_files_skipped(photos: Path, tmp_path: Path) -> None:
    folder = write_crops(tmp_path / "p", 3)
    Image.new("RGB", (SIZE, SIZE)).save(folder / ".hidden.png")
    (folder / "notes.txt").write_text("not an image")
    loaded = load_photos(folder, SIZE)
    assert loaded.names == ["crop000.png", "crop001.png", "crop002.png"]
    assert loaded.pixels.shape == (3, SIZE, SIZE, 3) and loaded.pixels.dtype == np.uint8
    assert loaded.resized == 0
    with Image.open(folder / "crop001.png") as image:
        assert np.array_equal(loaded.pixels[1], np.asarray(image))


def test_other_sizes_are_centre_cropped_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    wide = np.zeros((40, 80, 3), dtype=np.uint8)
    wide[:, 20:60] = 200  # the centre square is bright, the sides dark
    Image.fromarray(wide).save(folder / "wide.jpg", quality=95)
    loaded = load_photos(folder, SIZE)
    assert loaded.resized == 1 and loaded.pixels.shape == (1, SIZE, SIZE, 3)
    assert loaded.pixels.mean() > 180


def test_digest_follows_content(tmp_path: Path) -> None:
    folder = write_crops(tmp_path / "p", 2)
    before = load_photos(folder, SIZE).digest
    write_crops(folder, 1, offset=7)  # adds crop007.png
    assert load_photos(folder, SIZE).digest != before


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    folder = write_crops(tmp_path / "p", 1)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DatasetError, match=r"broken\.png: cannot read as an image"):
        load_photos(folder, SIZE)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder of photos"):
        load_photos(tmp_path / "nowhere", SIZE)


def test_resized_crops_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from train.generators.trainer import train_family

    folder = write_crops(tmp_path / "p", 2, size=20)
    with caplog.at_level(logging.WARNING):
        train_family(
            "ae-resynth", folder, tmp_path / "w", image_size=SIZE, steps=1, batch_size=1, seed=0, width=4
        )
    assert "2 crops were not 16x16" in caplog.text
