"""`fakescope model pull hf:...` and `model pull fakevlm` end to end, against a hub on loopback.

The hub (tests/hub_server.py) serves checkpoints built here: a tiny Idefics3 with its own
tokenizer, and a tiny LLaVA laid out as FakeVLM is, under the catalogue's repository names: the
weights repository without tokenizer or processor files, which come from the base model's
repository, where the tokenizer is a SentencePiece ``tokenizer.model`` only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.hub import TOKENIZER_FILES
from tests.conftest import as_from_a_terminal, write_test_image
from tests.hub_server import HubState, Repo, fake_hub

pytest.importorskip("torch")
runner = CliRunner()
FAKEVLM_REPO = "lingcco/fakeVLM"
BASE_REPO = "llava-hf/llava-1.5-7b-hf"


@pytest.fixture(scope="module")
def llava_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conversion.synthetic_llava import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("hub-llava") / "tiny-llava", sentencepiece_only=True)


@pytest.fixture(scope="module")
def fast_tokenizer_json(llava_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The tokenizer.json transformers makes of the SentencePiece model."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("fast")
    AutoTokenizer.from_pretrained(llava_folder).save_pretrained(out)
    return (out / "tokenizer.json").read_bytes()


@pytest.fixture()
def hub(
    tiny_checkpoint: Path, llava_folder: Path, fast_tokenizer_json: bytes
) -> Iterator[tuple[str, HubState]]:
    tokenizer_side = set(TOKENIZER_FILES) | {"chat_template.jinja"}
    weights_side = tuple(sorted(tokenizer_side))
    base = Repo.from_folder(llava_folder, aliases=("main", "a272c74"))
    # The base repository also holds weights of its own, which a pull must not fetch, and, as
    # llava-hf's does, a tokenizer.json beside its tokenizer.model.
    base.files = {n: d for n, d in base.files.items() if n in tokenizer_side or n == "config.json"}
    base.files["model-00001-of-00003.safetensors"] = b"\0" * 4096
    base.files["tokenizer.json"] = fast_tokenizer_json
    idefics = Repo.from_folder(tiny_checkpoint)
    idefics.files["added_tokens.json"] = b""  # an empty file: downloaded and checked like any other
    state = HubState(
        repos={
            "test/tiny-idefics3": idefics,
            FAKEVLM_REPO: Repo.from_folder(llava_folder, skip=weights_side),
            BASE_REPO: base,
            "test/llava-sentencepiece": Repo.from_folder(llava_folder),
        }
    )
    with fake_hub(state) as url:
        yield url, state


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HF_ENDPOINT": url, "FAKESCOPE_MODELS_DIR": str(tmp_path / "models"), **extra}


def _with_config(folder: Path, edit: Callable[[dict], object]) -> Repo:
    """The checkpoint in ``folder`` as a repository whose config.json ``edit`` has changed."""
    repo = Repo.from_folder(folder)
    config = json.loads(repo.files["config.json"])
    edit(config)
    repo.files["config.json"] = json.dumps(config).encode()
    return repo


def _manifest(tmp_path: Path, name: str) -> dict:
    return json.loads((tmp_path / "models" / f"{name}.manifest.json").read_text())


def test_catalogue_pull_converts_fakevlm_with_the_base_models_tokenizer(hub, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    result = runner.invoke(app, ["model", "pull", "fakevlm", "--yes", "--quant", "q8_0"], env=env)
    assert result.exit_code == 0, result.output
    models = tmp_path / "models"
    assert sorted(p.name for p in models.iterdir()) == [
        "fakevlm.gguf",
        "fakevlm.manifest.json",
        "fakevlm.mmproj.gguf",
    ]  # the staging folder is gone
    manifest = _manifest(tmp_path, "fakevlm")
    weights = state.repos[FAKEVLM_REPO]
    assert manifest["source"]["repo"] == FAKEVLM_REPO and manifest["source"]["commit"] == weights.commit
    assert manifest["source"]["revision"] == "main" and manifest["catalogue"] == "fakevlm"
    assert set(manifest["source"]["files"]) == set(weights.files) - {"TINY_RANDOM_MODEL.txt"}  # not needed
    for name, listed in manifest["source"]["files"].items():
        data = weights.files[name]
        assert listed == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    tokenizer = manifest["tokenizer_source"]
    assert (tokenizer["repo"], tokenizer["revision"]) == (BASE_REPO, "a272c74")
    assert "tokenizer.model" in tokenizer["files"] and "config.json" not in tokenizer["files"]
    assert manifest["profile"]["name"] == "fakevlm" and manifest["quantization"] == "q8_0"
    assert manifest["card"]["caveat"].startswith("FakeVLM was trained on FakeClue")
    from_base = {path.rsplit("/", 1)[1] for path in state.downloads() if path.startswith(f"/{BASE_REPO}/")}
    assert from_base == {
        "tokenizer.model",
        "tokenizer.json",
        "tokenizer_config.json",
        "processor_config.json",
    }

    image = write_test_image(tmp_path / "photo.png", size=(48, 40), seed=2)
    scan = runner.invoke(app, ["scan", str(image), "--json"], env=env)
    assert scan.exit_code in (0, 1), scan.output
    report = json.loads(scan.stdout)
    [item] = report["results"]
    assert 0.0 < item["p_fake"] < 1.0
    assert report["model"]["caveat"].startswith("FakeVLM was trained on FakeClue")  # in every report


def test_hf_pull_installs_scans_lists_and_removes(hub, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path, HF_TOKEN="hf_test_token")
    result = runner.invoke(
        app, ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "Bearer hf_test_token" in set(state.authorization)
    commit = state.repos["test/tiny-idefics3"].commit
    listing = runner.invoke(app, ["model", "list"], env=env)
    assert listing.exit_code == 0
    [line] = listing.stdout.splitlines()
    name, quant, arch, size, source, mmproj, caveat = line.split("\t")
    assert (name, quant, source, mmproj) == (
        "tiny-idefics3",
        "q8_0",
        f"hf:test/tiny-idefics3@{commit[:12]}",
        "mmproj",
    )
    assert caveat == "random weights: a test model, not a detector"  # the checkpoint's own card
    image = write_test_image(tmp_path / "a.png", seed=1)
    scan = runner.invoke(app, ["scan", str(image), "--json"], env=env)
    assert scan.exit_code in (0, 1), scan.output

    refused = runner.invoke(app, ["model", "remove", "tiny-idefics3"], env=env)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert (tmp_path / "models" / "tiny-idefics3.gguf").is_file()
    removed = runner.invoke(app, ["model", "remove", "tiny-idefics3", "--yes"], env=env)
    assert removed.exit_code == 0, removed.output
    assert not list((tmp_path / "models").glob("tiny-idefics3*"))
    again = runner.invoke(app, ["model", "remove", "tiny-idefics3", "--yes"], env=env)
    assert again.exit_code == 2 and "no such model" in again.stderr


def test_an_interrupted_download_resumes_and_nothing_is_installed_meanwhile(hub, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    state.cut_after["model.safetensors"] = 20_000
    args = ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 2
    assert "run pull again to resume" in first.stderr and "Traceback" not in first.output
    assert [line for line in first.stderr.splitlines() if line.startswith("error:")] == [
        next(line for line in first.stderr.splitlines() if "run pull again" in line)
    ]
    models = tmp_path / "models"
    assert not list(models.glob("*.gguf")) and not list(models.glob("*.manifest.json"))
    [partial] = models.glob(".pulls/*/checkpoint/model.safetensors.partial")
    assert partial.stat().st_size == 20_000
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "already here from an earlier try" in second.stderr
    ranges = [
        r for method, path, r in state.requests if path.endswith("/model.safetensors") and method == "GET"
    ]
    assert ranges[-1] == "bytes=20000-"
    assert (models / "tiny-idefics3.gguf").is_file() and not (models / ".pulls").exists()


@pytest.mark.parametrize("broken", ["model.safetensors", "config.json"])  # an LFS file, a git blob
def test_a_corrupted_file_is_caught_by_its_digest(hub, tmp_path: Path, broken: str) -> None:
    url, state = hub
    state.corrupt.add(broken)
    result = runner.invoke(app, ["model", "pull", "hf:test/tiny-idefics3", "--yes"], env=_env(url, tmp_path))
    assert result.exit_code == 2
    kind = "SHA-256" if broken.endswith(".safetensors") else "git blob id"
    assert f"{kind} does not match" in result.stderr and broken in result.stderr
    models = tmp_path / "models"
    assert not list(models.glob("*.gguf"))
    assert not list(models.glob(f".pulls/*/checkpoint/{broken}*"))  # discarded, to be fetched afresh


def test_without_yes_and_without_a_terminal_nothing_is_downloaded(hub, tmp_path: Path) -> None:
    url, state = hub
    result = runner.invoke(app, ["model", "pull", "hf:test/tiny-idefics3"], env=_env(url, tmp_path))
    assert result.exit_code == 2 and "pass --yes" in result.stderr
    assert "download:" in result.stderr  # what it would have fetched was said first
    assert state.downloads() == []
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").glob("*.gguf"))


def test_no_request_reaches_the_hub_unless_pulling(hub, tiny_gguf, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    image = write_test_image(tmp_path / "a.png", seed=3)
    text, mmproj = tiny_gguf
    for args in (
        ["scan", str(image), "--model", str(text), "--mmproj", str(mmproj)],
        ["evidence", str(image)],
        ["model", "list"],
        ["model", "list", "--available"],
        ["model", "info", str(text), "--mmproj", str(mmproj)],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code in (0, 1), (args, result.output)
    assert state.requests == []


def test_offline_flag_and_bad_sources_give_one_line(hub, tmp_path: Path) -> None:
    url, state = hub
    cases = [  # (arguments, environment, the line, whether the hub is asked at all)
        (["hf:test/tiny-idefics3"], {"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set", False),
        (["hf:test/absent"], {}, "no such repository", True),
        (["hf:test/tiny-idefics3@v9"], {}, "no revision 'v9'", True),
        (["hf:not a repo"], {}, "not a hub repository", False),
        (["no-such-model"], {}, "not in the catalogue", False),
        (["hf:test/tiny-idefics3", "--profile", "nope"], {}, "no bundled profile", False),
        (["hf:test/tiny-idefics3", "--quant", "q3"], {}, "unsupported text type 'q3'", False),
    ]
    for args, extra, message, asks_hub in cases:
        before = len(state.requests)
        result = runner.invoke(app, ["model", "pull", *args, "--yes"], env=_env(url, tmp_path, **extra))
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert (len(state.requests) > before) == asks_hub, args
    unreachable = runner.invoke(
        app, ["model", "pull", "hf:test/tiny-idefics3", "--yes"], env=_env("http://127.0.0.1:9", tmp_path)
    )
    assert unreachable.exit_code == 2 and "cannot reach" in unreachable.stderr


def test_refusals_before_downloading(hub, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    state.claimed_size["model.safetensors"] = 10**15
    full = runner.invoke(app, ["model", "pull", "hf:test/tiny-idefics3", "--yes"], env=env)
    assert full.exit_code == 2 and "not enough disk space" in full.stderr
    state.claimed_size.clear()
    state.repos["test/pickled"] = Repo({"config.json": b"{}", "pytorch_model.bin": b"\0" * 64}, "a" * 40)
    pickled = runner.invoke(app, ["model", "pull", "hf:test/pickled", "--yes"], env=env)
    assert pickled.exit_code == 2 and "pickled weights" in pickled.stderr
    weights_only = runner.invoke(app, ["model", "pull", f"hf:{FAKEVLM_REPO}", "--yes"], env=env)
    assert weights_only.exit_code == 2 and "--tokenizer-from" in weights_only.stderr
    assert state.downloads() == []


def test_an_unsupported_architecture_is_refused_before_downloading(
    hub, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    url, state = hub
    state.repos["test/mystery"] = _with_config(
        tiny_checkpoint, lambda c: c.update(architectures=["MysteryForConditionalGeneration"])
    )
    result = runner.invoke(app, ["model", "pull", "hf:test/mystery", "--yes"], env=_env(url, tmp_path))
    assert result.exit_code == 2 and "MysteryForConditionalGeneration cannot be converted" in result.stderr
    assert state.downloads() == []


def test_a_failed_conversion_installs_nothing_and_keeps_the_download(
    hub, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """The hub's summary of config.json said nothing, and the converter refuses what it reads."""
    url, state = hub
    state.repos["test/broken"] = _with_config(
        tiny_checkpoint,
        lambda c: c["text_config"].update(hidden_size=7),  # disagrees with the weights
    )
    result = runner.invoke(app, ["model", "pull", "hf:test/broken", "--yes"], env=_env(url, tmp_path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "nothing was installed" in result.stderr
    models = tmp_path / "models"
    assert not list(models.glob("*.gguf")) and not list(models.glob("*.manifest.json"))
    assert (models / ".pulls" / "broken" / "checkpoint" / "model.safetensors").is_file()


def test_a_sentencepiece_only_checkpoint_pulls_and_scans(hub, tmp_path: Path) -> None:
    from fakescope_cli.gguf_header import read_header

    url, _ = hub
    env = _env(url, tmp_path)
    args = [
        "model",
        "pull",
        "hf:test/llava-sentencepiece",
        "--profile",
        "fakevlm",
        "--quant",
        "q8_0",
        "--yes",
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    text = tmp_path / "models" / "llava-sentencepiece.gguf"
    meta = read_header(text).metadata
    assert meta["tokenizer.ggml.model"] == "llama" and "tokenizer.ggml.scores" in meta
    image = write_test_image(tmp_path / "b.png", size=(40, 40), seed=4)
    scan = runner.invoke(app, ["scan", str(image), "--json", "--model", "llava-sentencepiece"], env=env)
    assert scan.exit_code in (0, 1), scan.output


def test_the_token_never_follows_a_redirect_to_another_host(hub, tmp_path: Path) -> None:
    url, state = hub
    cdn = HubState(repos=state.repos)
    with fake_hub(cdn) as cdn_url:
        state.redirect_to = cdn_url
        env = _env(url, tmp_path, HF_TOKEN="hf_secret")
        result = runner.invoke(
            app, ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"], env=env
        )
    assert result.exit_code == 0, result.output
    assert any(path.endswith("/model.safetensors") for path in cdn.downloads())  # served by the CDN
    assert set(cdn.authorization) == {None}
    assert "Bearer hf_secret" in state.authorization


def test_what_a_server_gets_wrong_is_caught(hub, tmp_path: Path) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    args = ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"]
    state.extra_bytes["model.safetensors"] = b"\0" * 4096
    longer = runner.invoke(app, args, env=env)
    assert longer.exit_code == 2 and "sent more than" in longer.stderr
    state.extra_bytes.clear()
    # interrupted, then resumed from a server that ignores Range: starts the file over
    state.cut_after["model.safetensors"] = 10_000
    assert runner.invoke(app, args, env=env).exit_code == 2
    state.ignore_range = True
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "models" / "tiny-idefics3.gguf").is_file()


@pytest.mark.parametrize("changed", [False, True])
def test_a_moved_branch_resumes_only_files_that_are_still_the_same(
    hub, tmp_path: Path, changed: bool
) -> None:
    url, state = hub
    env = _env(url, tmp_path)
    args = ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"]
    state.cut_after["model.safetensors"] = 10_000
    assert runner.invoke(app, args, env=env).exit_code == 2
    repo = state.repos["test/tiny-idefics3"]
    repo.commit = "f" * 40  # main now points at another commit
    if changed:  # ... in which the weights differ (the last byte of the last tensor)
        data = repo.files["model.safetensors"]
        repo.files["model.safetensors"] = data[:-1] + bytes([data[-1] ^ 0x01])
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    ranges = [
        r for method, path, r in state.requests if path.endswith("/model.safetensors") and method == "GET"
    ]
    assert ranges[-1] == (None if changed else "bytes=10000-")
    manifest = _manifest(tmp_path, "tiny-idefics3")
    assert manifest["source"]["commit"] == "f" * 40
    listed = manifest["source"]["files"]["model.safetensors"]["sha256"]
    assert listed == hashlib.sha256(repo.files["model.safetensors"]).hexdigest()
    assert not (tmp_path / "models" / ".pulls").exists()


def test_remove_takes_only_installed_model_names(hub, tmp_path: Path) -> None:
    url, _ = hub
    env = _env(url, tmp_path)
    assert (
        runner.invoke(
            app, ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"], env=env
        ).exit_code
        == 0
    )
    for name in ("tiny-idefics3.mmproj", "tiny-idefics3.manifest", "../models/tiny-idefics3"):
        refused = runner.invoke(app, ["model", "remove", name, "--yes"], env=env)
        assert refused.exit_code == 2 and "no such model" in refused.stderr
    assert len(list((tmp_path / "models").glob("tiny-idefics3*"))) == 3


def test_ctrl_c_during_a_download_installs_nothing_and_the_same_command_resumes(  # and one pull at a time
    hub, tmp_path: Path
) -> None:
    """A real process interrupted by SIGINT mid-transfer, as a user's Ctrl-C does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    url, state = hub
    state.stall_after["model.safetensors"] = 30_000
    env = {**os.environ, **_env(url, tmp_path)}
    args = [
        sys.executable,
        "-m",
        "fakescope_cli",
        "model",
        "pull",
        "hf:test/tiny-idefics3",
        "--yes",
        "--quant",
        "q8_0",
    ]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    child = subprocess.Popen(args, env=env, preexec_fn=as_from_a_terminal, **pipes)
    partial = tmp_path / "models" / ".pulls" / "tiny-idefics3" / "checkpoint" / "model.safetensors.partial"
    deadline = time.monotonic() + 60
    while not (partial.is_file() and partial.stat().st_size >= 30_000) and time.monotonic() < deadline:
        time.sleep(0.1)
    if child.poll() is not None or not (partial.is_file() and partial.stat().st_size == 30_000):
        child.kill()
        state.resume.set()
        pytest.fail(f"the pull did not reach the stall: {child.communicate()[1][-2000:]}")
    second = runner.invoke(app, ["model", "pull", "hf:test/tiny-idefics3", "--yes"], env=_env(url, tmp_path))
    assert second.exit_code == 2 and "another pull of tiny-idefics3 is running" in second.stderr
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    state.resume.set()
    assert child.returncode == 130, stderr
    assert "interrupted: nothing was installed" in stderr and "Traceback" not in stderr
    assert not list((tmp_path / "models").glob("*.gguf"))
    assert partial.stat().st_size == 30_000
    again = runner.invoke(
        app, ["model", "pull", "hf:test/tiny-idefics3", "--yes", "--quant", "q8_0"], env=_env(url, tmp_path)
    )
    assert again.exit_code == 0, again.output
    ranges = [
        r for method, path, r in state.requests if path.endswith("/model.safetensors") and method == "GET"
    ]
    assert ranges[-1] == "bytes=30000-"


def test_a_pull_planned_while_another_installs_the_name_stops_before_downloading(
    hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakescope_cli.errors import ModelFileError
    from fakescope_cli.hub_pull import plan_pull, run_pull

    url, state = hub
    monkeypatch.setenv("HF_ENDPOINT", url)
    models = tmp_path / "models"
    late = plan_pull("hf:test/tiny-idefics3", models, quant="q8_0")
    first = run_pull(plan_pull("hf:test/tiny-idefics3", models, quant="q8_0"))
    assert (models / "tiny-idefics3.gguf") in first.installed
    fetched = len(state.downloads())
    with pytest.raises(ModelFileError, match="already has a model named tiny-idefics3"):
        run_pull(late)
    assert len(state.downloads()) == fetched  # refused under the lock, before any download
    assert not (models / ".pulls").exists()
