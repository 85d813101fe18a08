"""`fakescope scan --cluster` on a real Ray cluster: a head and a second node started here on
127.0.0.1 (ray's own test cluster: real GCS, raylets and worker processes), the tiny model shipped
to the actors through the object store, faults made by killing real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fakescope_cli.cluster import ClusterError, ShippedFile, materialise
from tests.conftest import write_test_image

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

# Ray maps 127.0.0.1 in an address to the machine's outward IP unless told it runs on one machine;
# the test cluster listens on loopback only.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    os.environ.update(LOOPBACK)
    head = {"num_cpus": 2, "include_dashboard": False, "node_ip_address": "127.0.0.1"}
    started = Cluster(initialize_head=True, head_node_args=head)
    started.add_node(num_cpus=2, node_ip_address="127.0.0.1")
    yield started.address
    started.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cluster-images")
    for i in range(16):
        write_test_image(root / f"img{i:02d}.png", seed=100 + i)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _command(tiny_gguf, folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fakescope_cli", "scan", str(folder), "--model", str(tiny_gguf[0]),
            "--mmproj", str(tiny_gguf[1]), "--jsonl", "--threads", "1", *extra]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **LOOPBACK, **extra}


def _records(stdout: str) -> list[dict]:
    out = []
    for line in filter(None, stdout.splitlines()):
        assert line.startswith("{"), f"not a JSON line on stdout: {line[:300]!r}"
        record = json.loads(line)
        record.pop("seconds")  # the only timing in a record
        out.append(record)
    return out


def _actor_pids() -> list[int]:
    return [
        p.pid for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("ray::ScanWorker")
    ]


def test_a_cluster_scan_equals_a_local_scan(cluster: str, tiny_gguf, folder: Path) -> None:
    local = subprocess.run(
        _command(tiny_gguf, folder, "--no-cache"), capture_output=True, text=True, env=_env()
    )
    remote = subprocess.run(
        _command(tiny_gguf, folder, "--no-cache", "--cluster", cluster),
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert remote.returncode == local.returncode == 3  # broken.png: unreadable, said, the scan went on
    assert _records(remote.stdout) == _records(local.stdout)  # evidence, scores, order: all of it
    assert len(_records(remote.stdout)) == 17
    assert "broken.png" in remote.stderr and "Traceback" not in remote.stderr


def test_an_actor_killed_mid_scan_loses_and_repeats_nothing(cluster: str, tiny_gguf, tmp_path: Path) -> None:
    for i in range(48):
        write_test_image(tmp_path / f"k{i:02d}.png", seed=300 + i)
    errors = tmp_path.parent / f"{tmp_path.name}.stderr.txt"  # not in the folder the scans read
    with errors.open("w") as stderr_file:
        scan = subprocess.Popen(
            _command(tiny_gguf, tmp_path, "--no-cache", "--no-evidence", "--cluster", cluster),
            stdout=subprocess.PIPE, stderr=stderr_file, text=True, env=_env(),
        )  # fmt: skip
    assert scan.stdout is not None
    lines = [scan.stdout.readline() for _ in range(3)]
    victims = _actor_pids()
    assert victims, "no actor process found"
    os.kill(victims[0], signal.SIGKILL)
    # The rest is read through the same buffered reader: communicate() reads the raw descriptor and
    # would drop whatever readline() had already buffered past the third line.
    watchdog = threading.Timer(300, scan.kill)
    watchdog.start()
    try:
        lines += scan.stdout.read().splitlines()
        scan.wait()
    finally:
        watchdog.cancel()
        scan.stdout.close()
    stderr = errors.read_text()
    records = _records("\n".join(lines))
    assert scan.returncode in (0, 1), stderr
    assert [Path(r["path"]).name for r in records] == [f"k{i:02d}.png" for i in range(48)]
    assert all(r["error"] is None for r in records)
    assert not psutil.pid_exists(victims[0]) or psutil.Process(victims[0]).status() == psutil.STATUS_ZOMBIE
    local = subprocess.run(
        _command(tiny_gguf, tmp_path, "--no-cache", "--no-evidence"),
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert records == _records(local.stdout)


def test_a_file_that_kills_every_worker_is_reported_after_a_few_tries(
    cluster: str, tiny_gguf, folder: Path
) -> None:
    done = subprocess.run(
        _command(tiny_gguf, folder, "--no-cache", "--no-evidence", "--cluster", cluster),
        capture_output=True, text=True, env=_env(FAKESCOPE_CLUSTER_FAULT="crash:img05.png"), timeout=300,
    )  # fmt: skip
    records = {Path(r["path"]).name: r for r in _records(done.stdout)}
    assert len(records) == 17 and done.returncode == 3
    assert "died on this file 3 times" in records["img05.png"]["error"]
    assert all(r["error"] is None for name, r in records.items() if name not in ("img05.png", "broken.png"))
    assert "img05.png" in done.stderr and "Traceback" not in done.stderr


def test_after_the_driver_is_killed_a_rerun_takes_finished_files_from_the_cache(
    cluster: str, tiny_gguf, tmp_path: Path
) -> None:
    for i in range(40):
        write_test_image(tmp_path / f"d{i:02d}.png", seed=500 + i)
    first = subprocess.Popen(
        _command(tiny_gguf, tmp_path, "--no-evidence", "--cluster", cluster),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(),
    )  # fmt: skip
    assert first.stdout is not None
    finished = [json.loads(first.stdout.readline())["path"] for _ in range(4)]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    # A worker now dies on a file the first run finished: only a cache hit keeps it from failing.
    again = subprocess.run(
        _command(tiny_gguf, tmp_path, "--no-evidence", "--cluster", cluster),
        capture_output=True, text=True, timeout=300,
        env=_env(FAKESCOPE_CLUSTER_FAULT=f"crash:{Path(finished[0]).name}"),
    )  # fmt: skip
    records = _records(again.stdout)
    assert again.returncode in (0, 1), again.stderr
    assert len(records) == 40 and all(r["error"] is None for r in records)


def test_model_files_are_checked_on_arrival(tmp_path: Path) -> None:
    data = b"GGUF" + bytes(100)
    import hashlib

    good = ShippedFile("m.gguf", hashlib.sha256(data).hexdigest(), None)
    first = materialise(good, data, tmp_path)
    assert first.read_bytes() == data and materialise(good, data, tmp_path) == first
    with pytest.raises(ClusterError, match="fails its SHA-256"):
        materialise(good, data[:-1] + b"\x01", tmp_path)


def test_without_ray_the_cluster_option_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakescope_cli import cluster as cluster_module

    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(ClusterError, match=r"pip install 'fakescope\[cluster\]'"):
        cluster_module.connect("local")


def test_the_address_can_come_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakescope_cli.commands.scan import configured_cluster

    config = tmp_path / "config.toml"
    monkeypatch.setenv("FAKESCOPE_CONFIG", str(config))
    assert configured_cluster() is None
    config.write_text('cluster = "10.0.0.1:6379"\n')
    assert configured_cluster() == "10.0.0.1:6379"
