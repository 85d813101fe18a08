"""Shell behaviour of `scan`: cache and resume after kill -9, workers in input order, --fail-on,
--quiet, NO_COLOR, and JSON output against the schemas."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.conftest import as_from_a_terminal
from tests.fakescope_cli.evidence.builders import jpeg_bytes, photo, png_bytes
from tests.schemas import validate

runner = CliRunner()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(6):
        (folder / f"img{i}.jpg").write_bytes(jpeg_bytes(photo((96, 80), seed=i)))
    (folder / "gen.png").write_bytes(png_bytes(photo((96, 80)), texts={"parameters": "x\nSteps: 5, Seed: 9"}))
    return folder


def _jsonl(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_second_scan_comes_from_the_cache(folder: Path, tiny_gguf) -> None:
    args = ["scan", str(folder), "--jsonl", "--model", str(tiny_gguf[0])]
    first = _jsonl(runner.invoke(app, args))
    second = _jsonl(runner.invoke(app, args))
    assert not any(r.get("cached") for r in first) and all(r.get("cached") for r in second)
    assert [(r["path"], r["p_fake"], r["verdict"]) for r in first] == [
        (r["path"], r["p_fake"], r["verdict"]) for r in second
    ]
    (folder / "new.jpg").write_bytes(jpeg_bytes(photo((96, 80), seed=99)))
    third = {Path(r["path"]).name: r for r in _jsonl(runner.invoke(app, args))}
    assert not third["new.jpg"].get("cached") and third["img0.jpg"]["cached"]
    # A new threshold re-fuses cached scores without re-analysis.
    moved = _jsonl(runner.invoke(app, [*args, "--threshold", "0.0", "--band", "0"]))
    assert all(r["cached"] and r["verdict"] in ("likely-ai", "ai-generated") for r in moved)
    for record in moved:
        validate(record, "result")


def test_no_cache_and_cache_commands(folder: Path) -> None:
    runner.invoke(app, ["scan", str(folder), "--evidence-only"])
    info = runner.invoke(app, ["cache", "info"])
    assert "results: 7" in info.stdout
    uncached = _jsonl(runner.invoke(app, ["scan", str(folder), "--evidence-only", "--jsonl", "--no-cache"]))
    assert not any(r.get("cached") for r in uncached)
    assert "removed 7" in runner.invoke(app, ["cache", "clear"]).stdout
    assert "results: 0" in runner.invoke(app, ["cache", "info"]).stdout


def test_workers_keep_input_order_and_results(folder: Path) -> None:
    one = _jsonl(runner.invoke(app, ["scan", str(folder), "--evidence-only", "--jsonl", "--no-cache"]))
    two = _jsonl(
        runner.invoke(
            app, ["scan", str(folder), "--evidence-only", "--jsonl", "--no-cache", "--workers", "2"]
        )
    )
    strip = [(r["path"], r["verdict"], r["evidence"]) for r in one]
    assert strip == [(r["path"], r["verdict"], r["evidence"]) for r in two]


def test_workers_with_the_model(folder: Path, tiny_gguf) -> None:
    args = ["scan", str(folder), "--jsonl", "--no-cache", "--model", str(tiny_gguf[0])]
    one = _jsonl(runner.invoke(app, args))
    two = _jsonl(runner.invoke(app, [*args, "--workers", "2"]))
    assert [r["path"] for r in one] == [r["path"] for r in two]
    assert [r["p_fake"] for r in one] == pytest.approx([r["p_fake"] for r in two], abs=1e-4)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_interrupt_then_resume(folder: Path, tmp_path: Path, stop: signal.Signals) -> None:
    for i in range(6, 40):
        (folder / f"img{i}.jpg").write_bytes(jpeg_bytes(photo((480, 360), seed=i)))
    env = {**os.environ, "FAKESCOPE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "fakescope_cli", "scan", str(folder), "--evidence-only", "--jsonl"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=as_from_a_terminal
    )
    assert process.stdout is not None and process.stderr is not None
    seen = [process.stdout.readline() for _ in range(5)]  # five finished, more in flight
    process.send_signal(stop)
    assert process.wait(timeout=60) in (-signal.SIGKILL, 130)
    assert all(seen)
    assert "Traceback" not in process.stderr.read().decode()
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    records = [json.loads(line) for line in rerun.stdout.splitlines()]
    paths = [r["path"] for r in records]
    assert len(paths) == len(set(paths)) == 41  # every image exactly once
    assert sum(bool(r.get("cached")) for r in records) >= 5
    assert rerun.returncode == 1  # gen.png declares its generator


def test_ctrl_c_says_what_was_kept(tmp_path: Path) -> None:
    """Ctrl-C is not silent: how many images finished and where they were kept (200 images, so
    the scan cannot finish before the signal lands, even on a loaded machine)."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(200):
        (folder / f"img{i}.jpg").write_bytes(jpeg_bytes(photo((480, 360), seed=i)))
    env = {**os.environ, "FAKESCOPE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "fakescope_cli", "scan", str(folder), "--evidence-only", "--jsonl"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=as_from_a_terminal
    )
    assert process.stdout is not None and process.stderr is not None
    seen = [process.stdout.readline() for _ in range(5)]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130 and all(seen)
    said = process.stderr.read().decode()
    found = re.search(r"interrupted: (\d+) of 200 images finished, kept in the results cache", said)
    assert found and 5 <= int(found.group(1)) < 200, said
    assert "run the same command again" in said and "Traceback" not in said


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [(None, 1), ("inconclusive", 1), ("camera-original", 0), ("likely-ai,likely-real", 0)],
)
def test_fail_on(folder: Path, fail_on: str | None, code: int) -> None:
    extra = [] if fail_on is None else ["--fail-on", fail_on]
    assert runner.invoke(app, ["scan", str(folder), "--evidence-only", *extra]).exit_code == code


def test_fail_on_unknown_verdict(folder: Path) -> None:
    result = runner.invoke(app, ["scan", str(folder), "--evidence-only", "--fail-on", "fake"])
    assert result.exit_code == 2 and "fake" in result.stderr


def test_quiet_silences_stderr_but_keeps_the_exit_code(folder: Path) -> None:
    (folder / "empty.jpg").write_bytes(b"")
    loud = runner.invoke(app, ["scan", str(folder), "--evidence-only"])
    quiet = runner.invoke(app, ["scan", str(folder), "--evidence-only", "--quiet"])
    assert "empty.jpg" in loud.stderr and quiet.stderr == ""
    assert loud.exit_code == quiet.exit_code == 3


@pytest.mark.parametrize(("no_color", "escapes"), [(False, True), (True, False)])
def test_no_color_is_honoured(folder: Path, no_color: bool, escapes: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "120"})
    if no_color:
        env["NO_COLOR"] = "1"
    command = [sys.executable, "-m", "fakescope_cli", "scan", str(folder / "gen.png"), "--evidence-only"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert "ai-generated" in done.stdout
    colour = re.search(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|9[0-7])(?:;[0-9]+)*m", done.stdout)  # bold is not colour
    assert bool(colour) == escapes


def test_scan_json_follows_the_schema(folder: Path, tiny_gguf) -> None:
    for extra in (["--evidence-only"], ["--model", str(tiny_gguf[0])]):
        result = runner.invoke(app, ["scan", str(folder), "--json", *extra])
        validate(json.loads(result.stdout), "scan")
    evidence = runner.invoke(app, ["evidence", str(folder), "--json"])
    validate(json.loads(evidence.stdout), "scan")
