"""mini-pack / mini-unpack on a small run folder made here: what goes in, what stays out, and a
pack that would not all come back from the device machine is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakescope_cli.errors import ConfigError
from train.run.mini.transfer import pack, unpack


def _work(root: Path) -> Path:
    files = {
        "stages/sft.json": b"{}",
        "sft/adapter/adapter_config.json": b"{}",
        "sft/adapter/adapter_model.safetensors": os.urandom(300_000),
        "sft/merged/model.safetensors": b"not handed back",
        "data/manifest.csv": b"path,label,generator,source,split\ntest/real/a.jpg,real,,p,test\n"
        b"train/real/b.jpg,real,,q,train\n",
        "data/test/real/a.jpg": b"jpeg",
        "data/train/real/b.jpg": b"not needed",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_round_trip_takes_only_what_the_rest_of_the_run_needs(tmp_path: Path) -> None:
    work = _work(tmp_path / "work")
    result = pack(work, tmp_path / "out", part_mb=0.1)
    assert len(result.parts) == 5  # 4 parts of the ~0.3 MiB archive, and the manifest
    elsewhere = tmp_path / "elsewhere"
    assert unpack(tmp_path / "out", elsewhere) == result.files
    assert (elsewhere / "data" / "test" / "real" / "a.jpg").read_bytes() == b"jpeg"
    adapter = "sft/adapter/adapter_model.safetensors"
    assert (elsewhere / adapter).read_bytes() == (work / adapter).read_bytes()
    assert not (elsewhere / "data" / "train").exists() and not (elsewhere / "sft" / "merged").exists()


def test_a_pack_that_would_not_come_back_is_refused(tmp_path: Path) -> None:
    work = _work(tmp_path / "work")
    with pytest.raises(ConfigError, match="over what one call hands back"):
        pack(work, tmp_path / "out", part_mb=0.1, max_files=3)
    assert not (tmp_path / "out").exists()


def test_a_run_without_an_adapter_is_named(tmp_path: Path) -> None:
    work = _work(tmp_path / "work")
    (work / "sft" / "adapter" / "adapter_config.json").unlink()
    with pytest.raises(ConfigError, match="no sft/adapter"):
        pack(work, tmp_path / "out")
