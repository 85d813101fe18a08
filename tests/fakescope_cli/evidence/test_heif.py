"""HEIF/HEIC (every iPhone photo): decoded, with its EXIF and XMP read as for JPEG; a damaged one
gets one clear line. The files are written in the test by pillow-heif's libheif encoder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from tests.fakescope_cli.evidence.builders import camera_exif, photo, xmp_description, xmp_packet
from tests.fakescope_cli.evidence.conftest import ids, only

pillow_heif = pytest.importorskip("pillow_heif")
runner = CliRunner()


def heic_bytes(exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    extra = {k: v for k, v in (("exif", exif), ("xmp", xmp)) if v is not None}
    photo((96, 80)).save(buffer, format="HEIF", quality=90, **extra)
    return buffer.getvalue()


def test_an_iphone_style_heic_is_decoded_and_its_exif_read(gather) -> None:
    data = heic_bytes(exif=camera_exif(make="Apple", model="iPhone 15 Pro").tobytes())
    assert data[4:12] == b"ftypheic"
    report = gather(data, "IMG_0001.HEIC", signals=False)
    assert "pixels.unreadable" not in ids(report)
    assert "iPhone 15 Pro" in str(only(report, "exif.camera").value)


def test_heic_xmp_declaring_a_generator_is_found(gather) -> None:
    xmp = xmp_packet(xmp_description(creator_tool="Midjourney"))
    report = gather(heic_bytes(xmp=xmp), "made.heic", signals=False)
    assert only(report, "generator.declared").value["generator"] == "Midjourney"


def test_scan_reads_heic_and_names_a_damaged_one(tmp_path: Path) -> None:
    good = tmp_path / "good.heic"
    good.write_bytes(heic_bytes(exif=camera_exif().tobytes()))
    broken = tmp_path / "broken.heic"
    broken.write_bytes(good.read_bytes()[:200])
    result = runner.invoke(app, ["scan", str(good), str(broken), "--evidence-only", "--jsonl", "--no-cache"])
    assert result.exit_code == 3, result.output
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["good.heic"]["error"] is None and records["good.heic"]["format"] == "HEIF"
    assert "broken.heic" in records["broken.heic"]["error"]
    assert [line for line in result.stderr.splitlines() if "broken.heic" in line]
    assert "Traceback" not in result.output
