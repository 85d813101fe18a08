"""Real crops of the bundled sample photographs, and each family trained a few steps on them at
16x16 with tiny widths (random-init, CPU): plumbing and reproducibility, not image quality."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.fakescope_cli.evidence.builders import SAMPLES

REPO = Path(__file__).resolve().parents[3]
SIZE = 16
WIDTH = 8
FAMILY_NAMES = ("ddpm", "gan-tconv", "gan-pixelshuffle", "ae-resynth")


def write_crops(folder: Path, count: int, offset: int = 0, size: int = SIZE) -> Path:
    """``count`` square crops of the sample photos, downscaled to ``size`` and saved as PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
    for index in range(offset, offset + count):
        with Image.open(SAMPLES / names[index % len(names)]) as opened:
            source = opened.convert("RGB")
        side = 96
        x = (index * 37) % (source.width - side)
        y = (index * 53) % (source.height - side)
        crop = source.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)
        crop.save(folder / f"crop{index:03d}.png")
    return folder


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny convolutions run fastest on one thread, and on a shared CPU two threads spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def single_threaded() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_crops(tmp_path_factory.mktemp("synth") / "photos", 12)


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Crops disjoint from ``photos``, for ae-resynth to re-synthesise."""
    return write_crops(tmp_path_factory.mktemp("synth") / "sources", 6, offset=100)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> dict[str, Path]:
    """Each family trained 8 steps (batch 4, seed 0) on ``photos``: family -> weights folder."""
    from train.generators.trainer import train_family

    root = tmp_path_factory.mktemp("synth-weights")
    with one_thread():
        for family in FAMILY_NAMES:
            train_family(
                family,
                photos,
                root / family,
                image_size=SIZE,
                steps=8,
                batch_size=4,
                seed=0,
                device="cpu",
                width=WIDTH,
            )
    return {family: root / family for family in FAMILY_NAMES}
