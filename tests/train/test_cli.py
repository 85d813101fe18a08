from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.train.conftest import write_folder
from tests.train.instruct.test_fakechain import TEACHER
from train.cli import build_parser, main

ImageSets = tuple[list[Image.Image], list[Image.Image]]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, image_sets: ImageSets) -> Path:
    """Reals as JPEG, fakes as PNG: the classic shortcut."""
    return write_folder(tmp_path_factory.mktemp("cli") / "data", image_sets, "JPEG", "PNG", splits=True)


@pytest.fixture(scope="module")
def small_png(tmp_path_factory: pytest.TempPathFactory, image_sets: ImageSets) -> Path:
    reals, fakes = image_sets
    return write_folder(tmp_path_factory.mktemp("cli-png") / "data", (reals[:2], fakes[:2]), "PNG", "PNG")


def test_parser_has_the_data_commands() -> None:
    handlers: dict = {}
    parser = build_parser(handlers)
    assert {"validate", "fakechain", "fakeinstruct"} <= set(handlers)
    args = parser.parse_args(["fakechain", "d", "--out", "o.jsonl", "--teacher", "python t.py"])
    assert (args.command, args.teacher, args.teacher_timeout) == ("fakechain", "python t.py", 120.0)


def test_validate_text_json_and_strict(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(mixed)]) == 0
    out = capsys.readouterr().out
    assert "images: 24" in out and "format        1.00" in out
    assert "shortcut: format alone separates real from fake" in out
    assert main(["validate", str(mixed), "--json", "--strict"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["separability"]["format"] == 1.0 and report["generators"]["flux"]["train"] == 4


def test_validate_errors_are_one_line(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(mixed), "--generators", "sd15"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "fake/flux: unknown generator 'flux'; allowed: sd15" in err


def test_fakechain_then_fakeinstruct(
    tmp_path: Path, small_png: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = small_png / "notes.json"
    notes.write_text(json.dumps({"images": {"fake/sd15/f00.png": {"traces": {"texture": "Waxy."}}}}))
    teacher = tmp_path / "teacher.py"
    teacher.write_text(TEACHER)
    chain = tmp_path / "chain.jsonl"
    command = f"{sys.executable} {teacher}"
    argv = [
        "fakechain",
        str(small_png),
        "--out",
        str(chain),
        "--annotations",
        str(notes),
        "--teacher",
        command,
    ]
    assert main(argv) == 0
    assert "2 records kept (0 judgment only), 2 dropped as unsupported" in capsys.readouterr().err
    assert len(chain.read_text().splitlines()) == 2

    profile = tmp_path / "profile.toml"
    profile.write_text('label_fake = "synthetic"\nlabel_real = "authentic"\n')
    extra = tmp_path / "fakeclue.json"
    extra.write_text(
        json.dumps(
            [
                {
                    "image": "x.png",
                    "label": "fake",
                    "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
                }
            ]
        )
    )
    out = tmp_path / "instruct.json"
    argv = ["fakeinstruct", str(chain), "--out", str(out), "--profile", str(profile), "--seed", "2"]
    assert main([*argv, "--extra", str(extra)]) == 0
    items = json.loads(out.read_text())
    assert "fakeinstruct: " in capsys.readouterr().err
    absolute = {
        item["label"]: item["conversations"][1]["value"] for item in items if item["family"] == "absolute"
    }
    assert absolute == {"fake": "synthetic", "real": "authentic"}
    assert items[-1]["image"] == "x.png" and items[-1]["source"] == "fakeclue"


def test_profile_typo_and_missing_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chain = tmp_path / "chain.jsonl"
    chain.write_text("")
    profile = tmp_path / "p.toml"
    profile.write_text('lable_fake = "x"\n')
    out = str(tmp_path / "o.json")
    assert main(["fakeinstruct", str(chain), "--out", out, "--profile", str(profile)]) == 2
    assert "unknown profile keys ['lable_fake']" in capsys.readouterr().err
    assert main(["fakeinstruct", str(chain), "--out", out]) == 2
    assert "chain.jsonl: no FakeChain records" in capsys.readouterr().err
    assert main(["fakechain", str(tmp_path), "--out", out, "--teacher", " "]) == 2
    assert "error: --teacher: empty command" in capsys.readouterr().err


def test_module_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FAKESCOPE_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "train", "validate", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {tmp_path / 'missing'}: no such file or folder\n"
    assert "Traceback" not in done.stderr and done.stdout == ""
