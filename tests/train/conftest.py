"""Small image sets made in the session: camera-like crops of the bundled sample photographs, and
"generated" images made by a generator-like x2 upsampling (checkerboard traces)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fakescope_cli.evidence.builders import SAMPLES, upsampled_like_a_generator

# The same size list for both classes: dimensions must not tell them apart.
SIZES = [(96, 96), (128, 96), (160, 128), (192, 144), (224, 160), (256, 192)]
N_PER_CLASS = 12


def _sources() -> list[Image.Image]:
    names = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
    return [Image.open(SAMPLES / name).convert("RGB") for name in names]


def real_like(index: int) -> Image.Image:
    """A downscaled crop of a sample photograph with a little sensor-like noise."""
    sources = _sources()
    source = sources[index % len(sources)]
    width, height = SIZES[index % len(SIZES)]
    x = (index * 37) % (source.width - 2 * width)
    y = (index * 53) % (source.height - 2 * height)
    crop = source.crop((x, y, x + 2 * width, y + 2 * height)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    noise = np.random.default_rng(index).normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(crop, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def fake_like(index: int) -> Image.Image:
    """A half-size crop upsampled x2 by a transposed convolution (the checkerboard of generators)."""
    sources = _sources()
    source = sources[(index + 1) % len(sources)]
    width, height = SIZES[index % len(SIZES)]
    x = (index * 41) % (source.width - width)
    y = (index * 29) % (source.height - height)
    return upsampled_like_a_generator(source.crop((x, y, x + width // 2, y + height // 2)), seed=index)


@pytest.fixture(scope="session")
def image_sets() -> tuple[list[Image.Image], list[Image.Image]]:
    return [real_like(i) for i in range(N_PER_CLASS)], [fake_like(i) for i in range(N_PER_CLASS)]


def write_folder(
    root: Path,
    image_sets: tuple[list[Image.Image], list[Image.Image]],
    real_format: str = "JPEG",
    fake_format: str = "JPEG",
    generators: tuple[str, ...] = ("sd15", "flux"),
    splits: bool = False,
) -> Path:
    """``root/real/...`` and ``root/fake/<generator>/...``, saved as asked (JPEG at quality 90);
    with ``splits``, in ``train/ val/ test/`` folders below those (8/2/2 of 12 per class)."""
    reals, fakes = image_sets
    for index, image in enumerate(reals):
        _save(image, root / "real" / _split(index, splits) / f"r{index:02d}", real_format)
    for index, image in enumerate(fakes):
        folder = root / "fake" / generators[index % len(generators)] / _split(index, splits)
        _save(image, folder / f"f{index:02d}", fake_format)
    return root


def _split(index: int, splits: bool) -> str:
    if not splits:
        return ""
    return ("train", "train", "train", "train", "val", "test")[index % 6]


def _save(image: Image.Image, stem: Path, fmt: str) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    path = stem.with_suffix(".jpg" if fmt == "JPEG" else ".png")
    if fmt == "JPEG":
        image.save(path, format="JPEG", quality=90)
    else:
        image.save(path, format=fmt)
    return path
