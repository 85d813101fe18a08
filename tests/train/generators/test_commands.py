from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.generators.conftest import REPO, SIZE, write_crops
from train.cli import main


def test_list_names_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth-list"]) == 0
    out = capsys.readouterr().out
    for name in ("ddpm", "gan-tconv", "gan-pixelshuffle", "ae-resynth (needs --source)"):
        assert f"\n{name}" in f"\n{out}"
    assert "defaults: width 64" in out


def test_train_then_generate(
    photos: Path, sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w"
    common = [
        "--image-size",
        str(SIZE),
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--width",
        "4",
        "--device",
        "cpu",
    ]
    assert (
        main(
            ["synth-train", "--family", "ae-resynth", "--photos", str(photos), "--out", str(weights), *common]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ae-resynth: 3 steps on 12 crops, cpu" in out and "loss: " in out and "weights.safetensors" in out
    args = ["synth-generate", "--weights", str(weights), "--count", "2", "--out", str(tmp_path / "g")]
    assert main([*args, "--source", str(sources), "--seed", "4", "--device", "cpu"]) == 0
    assert "ae-resynth: 2 written, 0 already there, cpu" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "g").glob("*.png")) == [
        "ae-resynth-s4-00000.png",
        "ae-resynth-s4-00001.png",
    ]


def _broken_photos(tmp_path: Path) -> Path:
    folder = write_crops(tmp_path / "broken", 2)
    (folder / "zz-bad.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return folder


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (
            lambda t: ["synth-train", "--family", "ddpm", "--photos", str(t / "none"), "--out", str(t / "w")],
            "none: not a folder of photos",
        ),
        (
            lambda t: ["synth-train", "--family", "ddpm", "--photos", str(t), "--out", str(t / "w")],
            "no PNG or JPEG photos",
        ),
        (
            lambda t: [
                "synth-train",
                "--family",
                "ddpm",
                "--photos",
                str(_broken_photos(t)),
                "--out",
                str(t / "w"),
            ],
            "zz-bad.jpg: cannot read as an image",
        ),
        (
            lambda t: ["synth-train", "--family", "stylegan", "--photos", str(t), "--out", str(t / "w")],
            "unknown generator family 'stylegan'; known: ddpm, gan-tconv, gan-pixelshuffle, ae-resynth",
        ),
        (
            lambda t: ["synth-generate", "--weights", str(t / "none"), "--count", "1", "--out", str(t / "g")],
            "no such weights folder",
        ),
        (
            lambda t: ["synth-generate", "--weights", str(t), "--count", "1", "--out", str(t / "g")],
            "config.json: missing",
        ),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args, message: str
) -> None:
    assert main([*make_args(tmp_path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_parser_does_not_import_torch() -> None:
    code = "import sys, train.cli; train.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
