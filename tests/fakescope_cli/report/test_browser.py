"""The HTML report opened in a real headless Chromium: it renders the verdict, the evidence table
and the images, attempts no network request, and leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.fakescope_cli.evidence.builders import camera_exif, jpeg_bytes, png_bytes

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
BROWSER = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
    None,
)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium here: `make test` installs the Debian package `chromium` when it can"
)


class CountingProxy:
    """A listener posing as the browser's proxy: any network request the page tries lands here."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.requests: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.getsockname()[1])

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            connection.settimeout(2)
            try:
                self.requests.append(connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
            except OSError:
                self.requests.append("(no request line)")
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


# Chromium's own calls home (sign-in, search preconnects), made whatever page is open; and
# speculative connections that close without a request.
BROWSER_NOISE = ("accounts.google.com:", "www.google.com:", "clients2.google.com", "update.googleapis.com")


def page_requests(proxy: CountingProxy) -> list[str]:
    return [r for r in proxy.requests if r and not any(host in r for host in BROWSER_NOISE)]


def test_the_proxy_sees_what_a_page_fetches(tmp_path: Path) -> None:
    """The control: a page that does load something from the network is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><img src="http://evil.example/pixel.png"><p>leak</p>')
    proxy = CountingProxy()
    try:
        _chromium(page, proxy, "--dump-dom")
    finally:
        proxy.close()
    assert any("evil.example" in r for r in page_requests(proxy))


def _chromium(page: Path, proxy: CountingProxy, *extra: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
        "--window-size=1100,2600",
        "--hide-scrollbars",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    image = tmp_path / "<script>alert(1)<\\script>.png"
    image.write_bytes(png_bytes(texts={"parameters": "x\nSteps: 5, Seed: 9, Model: <img src=http://evil/x>"}))
    camera = tmp_path / "camera.jpg"
    camera.write_bytes(jpeg_bytes(exif=camera_exif()))
    out = tmp_path / "site"
    result = CliRunner().invoke(
        app, ["scan", str(tmp_path), "--evidence-only", "--report-dir", str(out), "--no-cache"]
    )
    assert result.exit_code == 1, result.output
    page = next(p for p in out.glob("*.html") if p.name.startswith("_script_"))
    proxy = CountingProxy()
    try:
        dom = _chromium(page, proxy, "--dump-dom").stdout
        index_dom = _chromium(out / "index.html", proxy, "--dump-dom").stdout
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-chromium.png"
        shot.unlink(missing_ok=True)
        _chromium(page, proxy, f"--screenshot={shot}")
        index_shot = ARTIFACTS / "index-chromium.png"
        _chromium(out / "index.html", proxy, f"--screenshot={index_shot}")
    finally:
        proxy.close()
    assert page_requests(proxy) == []  # nothing on the pages tried to reach the network
    assert 'id="verdict">ai-generated<' in dom
    assert '<table id="evidence">' in dom and "generator metadata" in dom
    assert dom.count('src="data:image/') == 3  # thumbnail, ELA map, spectrum map
    assert "<script>alert(1)" not in dom and "&lt;img src=http://evil/x&gt;" in dom
    assert "<script>" in index_dom and "camera.jpg" in index_dom  # the index's own (hashed) sorter
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # a rendered page, not a blank one


def test_heat_map_renders_in_chromium(tmp_path: Path, crops_gguf) -> None:
    """A crops-view model's report: the heat map and the judged crops show, offline."""
    from tests.conftest import write_textured_image

    image = write_textured_image(tmp_path / "scene.png", (200, 150), seed=31)
    out = tmp_path / "reports"
    args = ["report", str(image), "--out", str(out), "--map", "--max-tokens", "4"]
    args += ["--model", str(crops_gguf[0]), "--mmproj", str(crops_gguf[1])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    page = Path(result.stdout.splitlines()[0])
    proxy = CountingProxy()
    try:
        dom = _chromium(page, proxy, "--dump-dom").stdout
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-heatmap-chromium.png"
        shot.unlink(missing_ok=True)
        _chromium(page, proxy, f"--screenshot={shot}")
    finally:
        proxy.close()
    assert page_requests(proxy) == []
    looked = dom[dom.index('id="looked"') : dom.index("</div>", dom.index('id="looked"'))]
    assert looked.count('src="data:image/png') == 2  # the heat map and the judged crops
    assert "Heat map of p(fake)" in looked and "4×3 grid" in looked
    heat = Image.open(shot).convert("RGB")
    assert np.asarray(heat, dtype=np.float32).std() > 10
