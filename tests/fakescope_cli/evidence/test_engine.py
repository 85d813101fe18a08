"""Hostile input: every string capped and cleaned, bombs and damage reported as findings, and one
failing analyser never stops the others."""

from __future__ import annotations

import struct
import zlib

import pytest

from fakescope_cli.evidence import engine, spectrum
from fakescope_cli.evidence.container import MAX_SEGMENTS, read_container
from fakescope_cli.evidence.text import MAX_TEXT, clean_text
from tests.fakescope_cli.evidence.builders import jpeg_bytes, photo, png_bomb, png_bytes
from tests.fakescope_cli.evidence.conftest import ids, only

ANSI = "\x1b[31m\x1b]8;;http://evil/\x07[bold]Midjourney[/bold]\x1b[0m\x00\x07"


def test_escape_sequences_and_controls_are_stripped(gather) -> None:
    report = gather(png_bytes(texts={"Software": ANSI}), "ansi.png", signals=False)
    item = only(report, "generator.declared")
    text = str(item.to_dict())
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    assert "[bold]Midjourney[/bold]" in item.value["detail"]  # markup stays text; the CLI escapes it


def test_long_strings_are_capped(gather) -> None:
    huge = "Steps: 20, Seed: 1, " + "x" * 200_000
    report = gather(png_bytes(texts={"parameters": huge}), "long.png", signals=False)
    assert all(len(str(item.to_dict())) < 3 * MAX_TEXT for item in report.items)
    assert clean_text("y" * (MAX_TEXT + 10)).endswith("[10 more characters not shown]")


def test_ztxt_decompression_is_capped() -> None:
    body = b"parameters\0\0" + zlib.compress(b"Seed: 1, " + b"\0" * (64 << 20), 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + struct.pack(">I", zlib.crc32(b"zTXt" + body))
    data = png_bytes()
    iend = data.rfind(b"IEND") - 4
    info = read_container(data[:iend] + chunk + data[iend:])
    assert info.texts and len(info.texts[0].text) <= MAX_TEXT + 100


def test_decompression_bomb_is_a_finding_and_metadata_still_reads(gather) -> None:
    bomb = png_bomb(texts={"parameters": "Steps: 20, Sampler: Euler, Seed: 77, Model: bomb-model"})
    report = gather(bomb, "bomb.png")
    assert "decompression bomb" in only(report, "pixels.unreadable").summary
    assert only(report, "generator.declared").value["seed"] == "77"
    assert "signal.ela" not in ids(report)


@pytest.mark.parametrize("cut", [30, 200, 2000])
def test_truncated_files_give_findings_not_crashes(gather, cut) -> None:
    for name, data in (("cut.png", png_bytes()), ("cut.jpg", jpeg_bytes())):
        report = gather(data[:cut], name)
        assert "hash.sha256" in ids(report)
        assert "pixels.unreadable" in ids(report) or "container.problem" in ids(report)


def test_not_an_image(gather) -> None:
    report = gather(b"%PDF-1.7 definitely not an image" * 10, "doc.png")
    assert "pixels.unreadable" in ids(report) and "hash.sha256" in ids(report)


def test_chunk_count_is_capped() -> None:
    tiny = b"".join(
        struct.pack(">I", 3) + b"tEXt" + b"k\0v" + struct.pack(">I", zlib.crc32(b"tEXtk\0v"))
        for _ in range(MAX_SEGMENTS + 10)
    )
    data = png_bytes()
    info = read_container(data[:33] + tiny + data[33:])
    assert any("too many chunks" in p for p in info.problems)
    assert len(info.texts) <= MAX_SEGMENTS


def test_failing_analyser_becomes_a_finding(gather, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("analyser bug")

    monkeypatch.setattr(spectrum, "residual_spectrum", broken)
    report = gather(png_bytes(photo((300, 300))), "p.png")
    assert only(report, "spectrum.failed").value == "analyser bug"
    assert {"signal.ela", "hash.phash", "c2pa.absent"} <= ids(report)


def test_timings_cover_each_analyser(gather) -> None:
    report = gather(jpeg_bytes(photo((300, 300))), "t.jpg")
    assert {
        "container",
        "decode",
        "hash",
        "exif",
        "xmp",
        "generator",
        "c2pa",
        "jpeg",
        "ela",
        "spectrum",
    } <= set(report.timings)
    assert "timings" not in str(report.to_dict())  # reports of one file stay identical run to run
    assert engine.EvidenceOptions().figures is False
