"""`fakescope model import|list|pull` and the library under them, on the real tiny export.

Pull is tested against an HTTP server on 127.0.0.1 started by the test (Range support, and a
first response cut short to exercise resume); nothing leaves the machine.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.download import Expected, download
from fakescope_cli.errors import ModelFileError
from fakescope_cli.install import import_model, list_models, pull
from fakescope_cli.models import file_sha256

runner = CliRunner()


@pytest.fixture(scope="module")
def export_dir(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conversion.export import export_checkpoint

    out = tmp_path_factory.mktemp("export")
    export_checkpoint(tiny_checkpoint, out, name="tiny", quant="q8_0")
    return out


def _copy(export_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    shutil.copytree(export_dir, folder)
    return folder


def test_import_checks_and_installs(export_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    installed = import_model([export_dir], models)
    assert sorted(p.name for p in installed) == ["tiny.gguf", "tiny.manifest.json", "tiny.mmproj.gguf"]
    assert file_sha256(models / "tiny.gguf") == file_sha256(export_dir / "tiny.gguf")
    [model] = list_models(models)
    assert (model.name, model.quantization, model.architecture) == (
        "tiny",
        "q8_0",
        "Idefics3ForConditionalGeneration",
    )
    assert not list(models.glob("*.partial"))


def test_import_refuses_a_file_that_does_not_match(export_dir: Path, tmp_path: Path) -> None:
    src = _copy(export_dir, tmp_path)
    data = bytearray((src / "tiny.mmproj.gguf").read_bytes())
    data[-1] ^= 0xFF  # same size, same header, different content
    (src / "tiny.mmproj.gguf").write_bytes(bytes(data))
    models = tmp_path / "models"
    with pytest.raises(ModelFileError, match="does not match the manifest"):
        import_model([src / "tiny.gguf"], models)
    assert list(models.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [(lambda b: b[: len(b) // 2], "truncated"), (lambda b: b"NOTG" + b[4:], "not a GGUF file")],
)
def test_import_and_info_name_a_broken_gguf(export_dir: Path, tmp_path: Path, damage, message) -> None:
    src = _copy(export_dir, tmp_path)
    (src / "tiny.gguf").write_bytes(damage((src / "tiny.gguf").read_bytes()))
    result = runner.invoke(
        app, ["model", "import", str(src)], env={"FAKESCOPE_MODELS_DIR": str(tmp_path / "m")}
    )
    assert result.exit_code == 2
    assert message in result.stderr
    info = runner.invoke(app, ["model", "info", str(src / "tiny.gguf")])
    assert info.exit_code == 2
    assert message in info.stderr


def test_manifest_with_unsafe_file_name_is_refused(export_dir: Path, tmp_path: Path) -> None:
    src = _copy(export_dir, tmp_path)
    manifest = json.loads((src / "tiny.manifest.json").read_text())
    manifest["files"]["text"]["file"] = "../escape.gguf"
    (src / "tiny.manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="unsafe"):
        import_model([src], tmp_path / "models")


def test_cli_import_then_list(export_dir: Path, tmp_path: Path) -> None:
    env = {"FAKESCOPE_MODELS_DIR": str(tmp_path / "models")}
    assert "no models" in runner.invoke(app, ["model", "list"], env=env).stdout
    result = runner.invoke(app, ["model", "import", str(export_dir / "tiny.manifest.json")], env=env)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["model", "list"], env=env)
    assert listed.exit_code == 0
    assert "tiny" in listed.stdout and "q8_0" in listed.stdout


# -- pull ------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    root: Path
    cut_first: dict[str, int] = {}  # file name -> bytes to send before dropping the connection once
    ranges: list[str | None] = []

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        header = self.headers.get("Range")
        type(self).ranges.append(header)
        start = int(header.split("=")[1].split("-")[0]) if header else 0
        body = data[start:]
        self.send_response(206 if header else 200)
        if header:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_first.pop(path.name, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server(export_dir: Path) -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"root": export_dir, "cut_first": {}, "ranges": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_pull_resumes_an_interrupted_download(server, export_dir: Path, tmp_path: Path) -> None:
    base, handler = server
    models = tmp_path / "models"
    handler.cut_first["tiny.gguf"] = 5000
    with pytest.raises(ModelFileError, match="run pull again to resume"):
        pull(f"{base}/tiny.manifest.json", models)
    partial = models / "tiny.gguf.download.partial"
    assert partial.stat().st_size == 5000
    assert not (models / "tiny.gguf").exists()
    fetched = pull(f"{base}/tiny.manifest.json", models)
    assert "bytes=5000-" in handler.ranges
    assert sorted(p.name for p in fetched) == ["tiny.gguf", "tiny.manifest.json", "tiny.mmproj.gguf"]
    assert file_sha256(models / "tiny.gguf") == file_sha256(export_dir / "tiny.gguf")
    assert not list(models.glob("*partial*")) and not list(models.glob("*.download"))


def test_pull_discards_a_download_with_the_wrong_hash(server, tmp_path: Path) -> None:
    base, _ = server
    target = tmp_path / "x.gguf"
    with pytest.raises(ModelFileError, match="SHA-256 does not match"):
        download(f"{base}/tiny.gguf", target, Expected(sha256="0" * 64))
    assert list(tmp_path.iterdir()) == []


def test_cli_pull(server, tmp_path: Path) -> None:
    base, _ = server
    env = {"FAKESCOPE_MODELS_DIR": str(tmp_path / "models")}
    result = runner.invoke(app, ["model", "pull", f"{base}/tiny.manifest.json"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "models" / "tiny.mmproj.gguf").is_file()
    missing = runner.invoke(app, ["model", "pull", f"{base}/nothing.manifest.json"], env=env)
    assert missing.exit_code == 2 and "404" in missing.stderr
    refused = runner.invoke(app, ["model", "pull", "file:///etc/passwd"], env=env)
    assert refused.exit_code == 2 and "only http" in refused.stderr
