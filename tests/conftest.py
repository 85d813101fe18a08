"""Session fixtures: a tiny random-init Idefics3 checkpoint, converted by our converter.

Built from scratch in the test session (no network, no downloaded files). The model has
random weights: tests use it to check plumbing and numerical parity, never detection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.synthetic import build_tiny_idefics3


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session, no process started by a test may still run (a scan's workers, a server):
    they are found by the FAKESCOPE_SOURCE_ROOT every test sets under this session's temp folder."""
    import os

    import psutil

    base = str(tmp_path_factory.getbasetemp())
    yield

    def ours() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            try:
                root = process.environ().get("FAKESCOPE_SOURCE_ROOT", "")
            except (psutil.Error, OSError):
                continue
            if process.pid == os.getpid() or not root.startswith(base):
                continue
            try:
                own_tracker = process.ppid() == os.getpid() and "resource_tracker" in " ".join(
                    process.cmdline()
                )
            except (psutil.Error, OSError):
                continue
            if not own_tracker:  # this interpreter's own multiprocessing helper ends with it
                found.append(process)
        return found

    _, alive = psutil.wait_procs(ours(), timeout=5)
    for process in alive:
        process.kill()
    assert not alive, f"the tests left processes running: {[' '.join(p.cmdline())[-80:] for p in alive]}"


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the developer's real config, data or cache folders, nor find the
    checkout's models/ (a bundled default model would otherwise answer every lookup)."""
    home = tmp_path_factory.mktemp("home")
    # an environment variable, so that `fakescope` run as a child process is kept away too
    monkeypatch.setenv("FAKESCOPE_SOURCE_ROOT", str(home / "source-root"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.setenv("HOME", str(home))
    for var in (
        "FAKESCOPE_MODEL",
        "FAKESCOPE_MMPROJ",
        "FAKESCOPE_CONFIG",
        "FAKESCOPE_MODELS_DIR",
        "FAKESCOPE_DEBUG",
        "HF_ENDPOINT",  # the hub: only the pull tests point it anywhere (at a loopback server)
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(home / "no-models-here"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_idefics3(tmp_path_factory.mktemp("tiny-hf") / "tiny-idefics3")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    """(text GGUF, mmproj GGUF) exported in f32 so parity tolerances can be tight."""
    from conversion.export import export_checkpoint

    result = export_checkpoint(
        tiny_checkpoint, tmp_path_factory.mktemp("tiny-gguf"), name="tiny", outtype="f32"
    )
    return result.text, result.mmproj


@pytest.fixture(scope="session")
def tiny_engine(tiny_gguf) -> Iterator[object]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    engine = LlamaEngine(ModelFiles(tiny_gguf[0], tiny_gguf[1], "test"))
    yield engine
    engine.close()


TINY_CROP = 64  # the tiny model's longest edge: a crop of it reaches the vision tower unresized


@pytest.fixture(scope="session")
def crops_gguf(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny model exported with a crops-view profile: 3 native 64 px crops, mean logit."""
    from dataclasses import replace

    from conversion.export import export_checkpoint
    from fakescope_cli.profile import DEFAULT_PROFILE

    profile = replace(DEFAULT_PROFILE, name="tiny-crops", view="crops", crop_size=TINY_CROP, crops=3)
    result = export_checkpoint(
        tiny_checkpoint,
        tmp_path_factory.mktemp("crops-gguf"),
        name="tiny-crops",
        outtype="f32",
        profile=profile,
    )
    return result.text, result.mmproj


@pytest.fixture(scope="session")
def crops_engine(crops_gguf) -> Iterator[object]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    engine = LlamaEngine(ModelFiles(crops_gguf[0], crops_gguf[1], "test"))
    yield engine
    engine.close()


def write_textured_image(path: Path, size: tuple[int, int], seed: int = 0, fmt: str = "PNG") -> Path:
    """Smooth content with a different texture in every region (so crops score differently)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, size[1] // 24), max(2, size[0] // 24), 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC).save(path, format=fmt)
    return path


def write_test_image(path: Path, size: tuple[int, int] = (64, 64), seed: int = 0, fmt: str = "PNG") -> Path:
    """A smooth random image (low-frequency content, so resampling filters agree closely)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    image.save(path, format=fmt)
    return path


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    write_test_image(folder / "a.png", seed=1)
    write_test_image(folder / "b.jpg", seed=2, fmt="JPEG")
    return folder


def as_from_a_terminal() -> None:
    """``preexec_fn`` for a child that a test will Ctrl-C: SIGINT back at its default, as in a
    user's terminal. A suite started in the background by a non-interactive shell (CI's) inherits
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler in its children."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
