"""The installed entry point as a user runs it: a separate process, real stdout/stderr."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_test_image


def _run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "fakescope_cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_help_does_not_import_torch() -> None:
    code = "import sys, fakescope_cli.app, fakescope_cli.engine.llama_engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert _run("--help").returncode == 0


def test_traceback_only_when_debugging(tmp_path: Path, tiny_gguf) -> None:
    image = write_test_image(tmp_path / "x.png")
    broken = tmp_path / "cut.gguf"
    broken.write_bytes(tiny_gguf[0].read_bytes()[:4096])
    args = ("scan", str(image), "--model", str(broken), "--mmproj", str(tiny_gguf[1]))
    quiet = _run(*args)
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr
    assert len([line for line in quiet.stderr.splitlines() if line.startswith("error:")]) == 1
    loud = _run(*args, env_extra={"FAKESCOPE_DEBUG": "1"})
    assert loud.returncode == 2
    assert "Traceback" in loud.stderr


def test_jsonl_lines_reach_a_pipe(tmp_path: Path, tiny_gguf) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        write_test_image(folder / f"{i}.png", seed=i)
    result = _run("scan", str(folder), "--jsonl", "--model", str(tiny_gguf[0]))
    assert result.returncode in (0, 1), result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == ""  # no progress bar or llama.cpp chatter when stderr is not a terminal


def test_help_imports_neither_numpy_nor_the_analysers() -> None:
    """`fakescope --help` stays fast: numpy, the evidence engine and llama.cpp load on first use
    (the time itself is a `make bench` figure, never a test)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fakescope_cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'fakescope_cli.evidence.engine', 'llama_cpp')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
