"""The evaluation images' photo copies: own-size and camera sets, byte for byte."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from train.run.mini.eval_images import cached_packages, copy_own_size


def _cache(root: Path, photos: dict[str, bytes]) -> Path:
    """A photo cache as photos-fetch leaves it: files and fetched.json (id = package/name)."""
    listed = []
    for photo_id, data in photos.items():
        package, name = photo_id.split("/")
        path = root / "files" / package / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        listed.append({"id": photo_id, "package": package, "file": str(path.relative_to(root))})
    (root / "fetched.json").write_text(json.dumps({"photos": listed}))
    return root


def test_copies_are_exact_and_an_earlier_selection_leaves_nothing_behind(tmp_path: Path) -> None:
    first = _cache(tmp_path / "a", {"pkg-a/one": b"\xff\xd8one", "pkg-b/two": b"\xff\xd8two"})
    more = _cache(tmp_path / "b", {"pkg-c/three": b"\xff\xd8three"})
    assert cached_packages(first) == {"pkg-a", "pkg-b"}
    out = tmp_path / "own-size"
    assert copy_own_size([first, more], frozenset({"pkg-a", "pkg-b", "pkg-c"}), out) == 3
    assert (out / "pkg-c__three.jpg").read_bytes() == b"\xff\xd8three"
    assert copy_own_size([first, more], frozenset({"pkg-a"}), out) == 1
    assert sorted(p.name for p in out.iterdir()) == ["manifest.csv", "pkg-a__one.jpg"]
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert rows == [
        {"path": "pkg-a__one.jpg", "label": "real", "generator": "", "source": "pkg-a/one", "split": "test"}
    ]
