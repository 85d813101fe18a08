"""EXIF findings: camera identity, maker notes, editors, thumbnails, malformed blocks."""

from __future__ import annotations

import pytest
from PIL import Image

from fakescope_cli.evidence.items import POINTS_CAMERA, POINTS_EDITED
from tests.fakescope_cli.evidence.builders import (
    camera_exif,
    insert_jpeg_segment,
    jpeg_bytes,
    jpeg_with_thumbnail,
    photo,
)
from tests.fakescope_cli.evidence.conftest import ids, only


def test_camera_with_maker_notes(gather) -> None:
    report = gather(jpeg_bytes(exif=camera_exif()), "cam.jpg", signals=False)
    camera = only(report, "exif.camera")
    assert camera.points_to == POINTS_CAMERA and camera.value["make"] == "Canon"
    assert "exif.maker_notes" in ids(report) and "exif.no_maker_notes" not in ids(report)
    assert only(report, "exif.capture_time").value == "2025:06:01 10:11:12"


def test_camera_without_maker_notes_is_a_rewrite_hint(gather) -> None:
    report = gather(jpeg_bytes(exif=camera_exif(maker_note=False)), "cam.jpg", signals=False)
    assert only(report, "exif.no_maker_notes").points_to == POINTS_EDITED


def test_editor_in_software_field(gather) -> None:
    report = gather(
        jpeg_bytes(exif=camera_exif(software="Adobe Photoshop 25.0 (Macintosh)")), "e.jpg", signals=False
    )
    item = only(report, "exif.software_editor")
    assert item.points_to == POINTS_EDITED and "Photoshop" in item.summary


def test_plain_software_is_reported_neutrally(gather) -> None:
    report = gather(jpeg_bytes(exif=camera_exif(software="Firmware 1.2")), "f.jpg", signals=False)
    assert only(report, "exif.software").points_to == "neutral"


def test_no_exif(gather) -> None:
    report = gather(jpeg_bytes(), "plain.jpg", signals=False)
    assert "exif.absent" in ids(report) and "exif.camera" not in ids(report)


def test_thumbnail_shape_mismatch(gather) -> None:
    cropped = photo((400, 400))  # square picture, 4:3 thumbnail: cropped after the thumbnail was made
    report = gather(jpeg_with_thumbnail(cropped, (160, 120)), "crop.jpg", signals=False)
    item = only(report, "exif.thumbnail_mismatch")
    assert item.value["thumbnail"] == [160, 120] and item.points_to == POINTS_EDITED


def test_thumbnail_same_shape(gather) -> None:
    report = gather(jpeg_with_thumbnail(photo((400, 300)), (160, 120)), "ok.jpg", signals=False)
    assert "exif.thumbnail" in ids(report) and "exif.thumbnail_mismatch" not in ids(report)


def test_malformed_exif_block_is_a_finding_and_the_rest_runs(gather) -> None:
    broken = insert_jpeg_segment(jpeg_bytes(), 0xE1, b"Exif\0\0MM\x00\x2a\xff\xff\xff\xf0garbage")
    report = gather(broken, "broken-exif.jpg")
    assert "exif.unreadable" in ids(report)
    assert {"hash.sha256", "signal.ela", "jpeg.quantization", "c2pa.absent"} <= ids(report)


def test_exif_rotation_does_not_confuse_the_thumbnail_check(gather) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    report = gather(jpeg_bytes(photo((400, 300)), exif=exif), "rot.jpg", signals=False)
    assert "exif.thumbnail_mismatch" not in ids(report)


@pytest.mark.parametrize(
    ("software", "editor"), [("Canvas Draw 7", False), ("Canva", True), ("GIMPy 2", False)]
)
def test_editor_names_match_whole_words(gather, software: str, editor: bool) -> None:
    report = gather(jpeg_bytes(exif=camera_exif(software=software)), "w.jpg", signals=False)
    assert ("exif.software_editor" in ids(report)) == editor
