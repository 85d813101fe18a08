"""A local Debian package built in the session (``dpkg-deb -b``) holding the repository's sample
photographs and a copyright file, its photo list, and the cache and pool made from it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakescope_cli.evidence.builders import SAMPLES
from train.data.photos.fetch import fetch
from train.data.photos.pool import build_pool
from train.data.photos.sources import load_sources

PACKAGE = "fakescope-test-photos"
VERSION = "1:1.2-3"
SAMPLE_NAMES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
INNER = "usr/share/fakescope-test"

SOURCES = (
    f"""
[packages.{PACKAGE}]
licence = "CC0-1.0"
copyright = "2026, Test Photographer"
photos = [
"""
    + "".join(f'  {{ path = "{INNER}/{name}", author = "scikit-image" }},\n' for name in SAMPLE_NAMES)
    + "]\n"
)


def build_deb(folder: Path, files: dict[str, Path], name: str = PACKAGE) -> Path:
    """A minimal binary package with ``files`` (path inside -> source file) and a copyright file."""
    root = folder / f"{name}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {VERSION}\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
        "Description: test photographs\n"
    )
    for inner, source in files.items():
        (root / inner).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / inner)
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nCopyright: 2026, Test Photographer\nLicense: CC0-1.0\n")
    deb = folder / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


@pytest.fixture(scope="session")
def photo_deb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the .deb, its sources.toml); skipped where the Debian tools are absent."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed (the photo commands need the Debian tools)")
    folder = tmp_path_factory.mktemp("deb")
    deb = build_deb(folder, {f"{INNER}/{name}": SAMPLES / name for name in SAMPLE_NAMES})
    sources = folder / "sources.toml"
    sources.write_text(SOURCES)
    return deb, sources


@pytest.fixture(scope="session")
def photo_cache(photo_deb: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    deb, sources = photo_deb
    cache = tmp_path_factory.mktemp("cache")
    fetch(cache, [str(deb)], load_sources(sources))
    return cache


@pytest.fixture(scope="session")
def photo_pool(photo_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pool = tmp_path_factory.mktemp("pool") / "pool"
    build_pool(photo_cache, pool, max_side=400, budget_mb=1.0)
    return pool
