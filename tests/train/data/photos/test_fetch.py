from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fakescope_cli.errors import DatasetError
from tests.fakescope_cli.evidence.builders import SAMPLES
from tests.train.data.photos.conftest import INNER, PACKAGE, SAMPLE_NAMES, SOURCES, build_deb
from train.cli import main
from train.data.photos.sources import DEFAULT_SOURCES, load_sources


def test_fetch_records_version_checksums_licences_and_copyright(photo_cache: Path) -> None:
    state = json.loads((photo_cache / "fetched.json").read_text())
    package = state["packages"][PACKAGE]
    assert package["version"] == "1:1.2-3" and package["photos"] == 4
    assert (photo_cache / package["copyright_file"]).read_text().startswith("Files: *")
    photos = {p["id"]: p for p in state["photos"]}
    assert sorted(photos) == sorted(f"{PACKAGE}/{Path(n).stem}" for n in SAMPLE_NAMES)
    cat = photos[f"{PACKAGE}/chelsea"]
    expected = hashlib.sha256((SAMPLES / "chelsea.png").read_bytes()).hexdigest()
    assert cat["sha256"] == expected and cat["size"] == (SAMPLES / "chelsea.png").stat().st_size
    assert (cat["path"], cat["licence"], cat["copyright"]) == (
        f"{INNER}/chelsea.png",
        "CC0-1.0",
        "2026, Test Photographer",
    )
    assert (photo_cache / cat["file"]).read_bytes() == (SAMPLES / "chelsea.png").read_bytes()


def test_fetch_errors_name_the_package_or_file(
    tmp_path: Path, photo_deb: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    deb, _ = photo_deb
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES.replace("coffee.png", "tea.png"))
    cache = str(tmp_path / "cache")
    assert main(["photos-fetch", "--cache", cache, "--package", str(deb), "--sources", str(sources)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"package {PACKAGE} 1:1.2-3 has no file {INNER}/tea.png" in err

    other = build_deb(tmp_path, {f"{INNER}/a.png": SAMPLES / "coffee.png"}, name="unlisted-photos")
    assert main(["photos-fetch", "--cache", cache, "--package", str(other), "--sources", str(sources)]) == 2
    assert "package 'unlisted-photos' is not listed in sources.toml" in capsys.readouterr().err

    missing = str(tmp_path / "absent.deb")
    assert main(["photos-fetch", "--cache", cache, "--package", missing, "--sources", str(sources)]) == 2
    assert f"error: {missing}: no such .deb file\n" == capsys.readouterr().err


def test_bundled_source_list_is_complete() -> None:
    sources = load_sources(DEFAULT_SOURCES)
    photos = [p for listed in sources.values() for p in listed]
    assert len(photos) >= 40 and len({p.id for p in photos}) == len(photos)
    assert all(p.licence and p.copyright and p.path.startswith("usr/share/") for p in photos)
    assert {"palapeli-data", "mate-backgrounds", "plasma-workspace-wallpapers"} <= set(sources)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[packages.x]\nlicence = "MIT"\nphotos = [{ path = "a.jpg", copyrite = "me" }]\n',
            "unknown key 'copyrite'",
        ),
        ('[packages.x]\nphotos = [{ path = "a.jpg", copyright = "me" }]\n', "no licence"),
        (
            '[packages.x]\nlicence = "MIT"\ncopyright = "me"\nphotos = [{ path = "../a.jpg" }]\n',
            "inside the package",
        ),
        (
            '[packages.x]\nlicence = "MIT"\ncopyright = "me"\n'
            'photos = [{ path = "a/p.jpg" }, { path = "b/p.jpg" }]\n',
            "used twice",
        ),
        ("[package.x]\n", "unknown key 'package'"),
    ],
)
def test_source_list_problems_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_sources(path)


def test_every_other_source_list_loads_and_names_licences() -> None:
    """sources_more.toml and sources_camera.toml: the same schema, a licence and copyright line
    for every photograph, no photograph listed in two lists."""
    seen = {p.id for listed in load_sources(DEFAULT_SOURCES).values() for p in listed}
    for name in ("sources_more.toml", "sources_camera.toml"):
        sources = load_sources(DEFAULT_SOURCES.with_name(name))
        photos = [p for listed in sources.values() for p in listed]
        assert photos and all(p.licence and p.copyright for p in photos), name
        ids = {p.id for p in photos}
        assert len(ids) == len(photos) and not ids & seen, name
        seen |= ids
