"""Photos packed in a compiled Qt resource file (``.rcc``, as GCompris ships them) inside a package."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from fakescope_cli.errors import DatasetError
from tests.fakescope_cli.evidence.builders import SAMPLES
from tests.train.data.photos.conftest import PACKAGE, build_deb
from train.cli import main
from train.data.photos.fetch import rcc_member


def write_rcc(files: dict[str, tuple[bytes, bool]], version: int = 3) -> bytes:
    """A Qt resource file holding ``files`` ("dir/name" -> (bytes, zlib-compressed)), laid out as rcc does."""
    tree: dict[str, object] = {}
    for path, content in files.items():
        *folders, leaf = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})  # type: ignore[assignment]
        node[leaf] = content  # type: ignore[index]
    names, payload = bytearray(), bytearray()
    name_at: dict[str, int] = {}
    rows: list[bytes] = []  # filled breadth-first: the children of a directory sit side by side

    def name_offset(name: str) -> int:
        if name not in name_at:
            name_at[name] = len(names)
            encoded = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(name), 0) + encoded)
        return name_at[name]

    stamp = b"\0" * 8 if version >= 2 else b""
    queue: list[tuple[str, object]] = [("", tree)]
    rows.append(b"")
    next_index = 1
    position = 0
    while position < len(queue):
        name, node = queue[position]
        offset = name_offset(name) if position else 0
        if isinstance(node, dict):
            children = sorted(node.items())
            rows[position] = struct.pack(">IHII", offset, 0x02, len(children), next_index) + stamp
            for child in children:
                queue.append(child)
                rows.append(b"")
            next_index += len(children)
        else:
            content, compressed = node  # type: ignore[misc]
            stored = struct.pack(">I", len(content)) + zlib.compress(content) if compressed else content
            flags = 0x01 if compressed else 0
            rows[position] = struct.pack(">IHHHI", offset, flags, 0, 0, len(payload)) + stamp
            payload.extend(struct.pack(">I", len(stored)) + stored)
        position += 1
    header = 24 if version >= 3 else 20
    tree_bytes = b"".join(rows)
    body_at = header + len(tree_bytes)
    names_at = body_at + len(payload)
    head = b"qres" + struct.pack(">4I", version, header, body_at, names_at)
    head += struct.pack(">I", 0) if version >= 3 else b""
    return head + tree_bytes + bytes(payload) + bytes(names)


def test_rcc_member_finds_plain_and_compressed_files() -> None:
    coffee, rocket = (SAMPLES / "coffee.png").read_bytes(), (SAMPLES / "rocket.jpg").read_bytes()
    for version in (1, 2, 3):
        data = write_rcc({"a/img/coffee.png": (coffee, True), "a/rocket.jpg": (rocket, False)}, version)
        assert rcc_member(data, "a/img/coffee.png", "x.rcc") == coffee
        assert rcc_member(data, "a/rocket.jpg", "x.rcc") == rocket
        assert rcc_member(data, "a/img/tea.png", "x.rcc") is None
        assert rcc_member(data, "a/img", "x.rcc") is None  # a directory, not a file
    with pytest.raises(DatasetError, match="x.rcc: not a Qt resource file"):
        rcc_member(b"PK\x03\x04" + b"\0" * 40, "a", "x.rcc")
    with pytest.raises(DatasetError, match="x.rcc: damaged Qt resource file"):
        rcc_member(write_rcc({"a/b.png": (coffee, True)})[:40], "a/b.png", "x.rcc")


def test_fetch_unpacks_a_listed_rcc_member(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coffee = (SAMPLES / "coffee.png").read_bytes()
    rcc = tmp_path / "pack.rcc"
    rcc.write_bytes(write_rcc({"res/coffee.png": (coffee, True), "res/rocket.jpg": (b"x", False)}))
    deb = build_deb(tmp_path, {"usr/share/t/pack.rcc": rcc})
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[packages.{PACKAGE}]\nlicence = "CC0-1.0"\ncopyright = "2026, T"\n'
        'photos = [{ path = "usr/share/t/pack.rcc!/res/coffee.png" }]\n'
    )
    cache = tmp_path / "cache"
    args = ["photos-fetch", "--cache", str(cache), "--package", str(deb), "--sources", str(sources)]
    assert main(args) == 0
    capsys.readouterr()
    (photo,) = json.loads((cache / "fetched.json").read_text())["photos"]
    assert photo["id"] == f"{PACKAGE}/coffee" and (cache / photo["file"]).read_bytes() == coffee

    sources.write_text(sources.read_text().replace("res/coffee.png", "res/tea.png"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "usr/share/t/pack.rcc has no member res/tea.png (listed in sources.toml)" in err
