"""Hostile and real-world files found by fuzzing and review, rebuilt here as tests."""

from __future__ import annotations

import io
import json
import re
import struct
import time
import zlib

import pytest
from PIL import Image

from fakescope_cli.evidence.container import MAX_INFLATED, read_container
from fakescope_cli.evidence.ela import MAX_ELA_PIXELS, _centre_crop
from tests.fakescope_cli.evidence.builders import (
    camera_exif,
    insert_jpeg_segment,
    jpeg_bytes,
    jpeg_with_xmp,
    photo,
    png_bytes,
    xmp_packet,
)
from tests.fakescope_cli.evidence.conftest import ids, only

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _one_entry_tiff(tag: int, kind: int, count: int, value: int = 8) -> bytes:
    return b"II*\x00" + struct.pack("<IHHHII", 8, 1, tag, kind, count, value) + struct.pack("<I", 0)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("count", [0xFFFFFFFF, 1 << 20])
def test_exif_entry_with_a_huge_count_is_refused_fast(gather, count) -> None:
    data = insert_jpeg_segment(jpeg_bytes(), 0xE1, b"Exif\0\0" + _one_entry_tiff(0x927C, 7, count))
    started = time.perf_counter()
    report = gather(data, "hang.jpg", signals=False)
    assert time.perf_counter() - started < 5
    assert "beyond the end" in only(report, "exif.unreadable").value


def test_webp_exif_is_read(gather) -> None:
    buffer = io.BytesIO()
    photo().save(buffer, format="WEBP", exif=camera_exif().tobytes())
    report = gather(buffer.getvalue(), "cam.webp", signals=False)
    assert "exif.camera" in ids(report) and "exif.unreadable" not in ids(report)


def test_short_webp_exif_chunk_is_a_finding(gather) -> None:
    buffer = io.BytesIO()
    photo().save(buffer, format="WEBP", exif=b"abcd")
    report = gather(buffer.getvalue(), "short.webp")
    assert "pixels.unreadable" in ids(report) and "exif.unreadable" in ids(report)


def test_json_escapes_cannot_smuggle_control_characters(gather) -> None:
    metadata = json.dumps({"model": {"name": "\u001b[31mred\u0007"}, "seed": "\u001b]8;;x\u0007"})
    report = gather(png_bytes(texts={"invokeai_metadata": metadata}), "x.png", signals=False)
    item = only(report, "generator.declared")
    assert not CONTROL.search(str(item.to_dict())) and "red" in item.value["model"]


def test_long_comfyui_prompt_is_still_recognised(gather) -> None:
    graph = {str(i): {"class_type": "Note", "inputs": {"text": "x" * 100}} for i in range(80)}
    graph["4"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}}
    report = gather(png_bytes(texts={"prompt": json.dumps(graph)}), "comfy.png", signals=False)
    assert only(report, "generator.declared").value["model"] == "model.safetensors"


def test_job_id_inside_an_rdf_alt_description(gather) -> None:
    packet = xmp_packet(
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>'
        '<rdf:li xml:lang="x-default">title</rdf:li></rdf:Alt></dc:title><dc:description><rdf:Alt>'
        '<rdf:li xml:lang="x-default">a cat --ar 3:2 Job ID: 0a1b2c3d-0000-1111-2222-333344445555</rdf:li>'
        "</rdf:Alt></dc:description></rdf:Description>"
    )
    assert (
        only(gather(jpeg_with_xmp(packet), "mj.jpg", signals=False), "generator.declared").value["generator"]
        == "Midjourney"
    )


@pytest.mark.parametrize(
    "exif_or_credit",
    [
        ("Artist", "Jane Runway"),
        ("Software", "Imagenomic Portraiture 4"),
        ("Credit", "Flux Studios"),
    ],
)
def test_ordinary_names_are_not_generator_declarations(gather, exif_or_credit) -> None:
    field, value = exif_or_credit
    if field == "Credit":
        packet = xmp_packet(
            '<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
            f'photoshop:Credit="{value}"/>'
        )
        data = jpeg_with_xmp(packet)
    else:
        exif = camera_exif(maker_note=False)
        exif[0x013B if field == "Artist" else 0x0131] = value
        data = jpeg_bytes(exif=exif)
    report = gather(data, "x.jpg", signals=False)
    declared = [i.value["generator"] for i in report.items if i.id == "generator.declared"]
    assert declared == []


def test_made_with_google_ai_credit_is_a_declaration(gather) -> None:
    packet = xmp_packet(
        '<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        'photoshop:Credit="Made with Google AI"/>'
    )
    item = only(gather(jpeg_with_xmp(packet), "g.jpg", signals=False), "generator.declared")
    assert item.value["generator"] == "Google Imagen / Gemini"


def test_compressed_text_has_a_per_file_budget() -> None:
    bomb = zlib.compress(b"\0" * (300 << 10), 9)
    chunks = b"".join(_png_chunk(b"zTXt", f"k{i}".encode() + b"\0\0" + bomb) for i in range(60))
    data = png_bytes()
    info = read_container(data[:33] + chunks + data[33:])
    assert info.inflated <= MAX_INFLATED
    assert any("budget" in problem for problem in info.problems)
    assert any("truncated" in problem for problem in info.problems)


def test_large_compressed_xmp_in_itxt_is_kept_whole(gather) -> None:
    padding = "<rdf:Description xmlns:x2='urn:pad' x2:pad='" + "p" * (300 << 10) + "'/>"
    body = (
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    )
    packet = xmp_packet(padding + body).decode()
    report = gather(png_bytes(itexts={"XML:com.adobe.xmp": packet}), "x.png", signals=False)
    assert "xmp.digital_source_type.trainedAlgorithmicMedia" in ids(report)


def test_ela_works_on_the_centre_of_huge_images() -> None:
    crop = _centre_crop(Image.new("RGB", (12000, 8000)))
    assert crop.width * crop.height <= MAX_ELA_PIXELS and crop.width % 8 == crop.height % 8 == 0
    small = Image.new("RGB", (640, 480))
    assert _centre_crop(small) is small


def test_tiff_decoder_warnings_do_not_reach_stderr(tmp_path, capfd) -> None:
    from fakescope_cli.errors import ImageInputError
    from fakescope_cli.imageio import decode_image

    # A TIFF header promising 35 samples per pixel: libtiff complains on file descriptor 2.
    entries = [
        (256, 3, 1, 8),
        (257, 3, 1, 8),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (277, 3, 1, 35),
        (273, 4, 1, 200),
        (279, 4, 1, 64),
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    data = b"II*\x00" + struct.pack("<I", 8) + ifd
    data += b"\0" * (264 - len(data))
    path = tmp_path / "odd.tif"
    path.write_bytes(data)
    with pytest.raises(ImageInputError):
        decode_image(path, data)
    assert capfd.readouterr().err == ""


def test_a_huge_image_description_is_cut_and_the_camera_kept(gather) -> None:
    """A 1 MiB ImageDescription used to make the whole EXIF unreadable (camera make lost)."""
    exif = camera_exif()
    exif[0x010E] = "A" * (1 << 20)
    buffer = io.BytesIO()
    photo().save(buffer, format="PNG", exif=exif.tobytes())  # PNG's eXIf chunk holds more than 64 KiB
    assert len(buffer.getvalue()) > 1 << 20
    report = gather(buffer.getvalue(), "long-description.png", signals=False)
    assert "exif.unreadable" not in ids(report)
    assert "Canon" in str(only(report, "exif.camera").value)
    oversized = only(report, "exif.oversized_field")
    assert oversized.value == (1 << 20) + 1 and "0x010E" in oversized.summary
