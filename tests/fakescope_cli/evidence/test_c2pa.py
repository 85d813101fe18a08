"""C2PA: manifests signed here with c2pa-python's Builder and a certificate chain made here."""

from __future__ import annotations

import pytest

from fakescope_cli.evidence.items import POINTS_AI, POINTS_CAMERA, STRONG
from tests.fakescope_cli.evidence.builders import IPTC, TestSigner, jpeg_bytes, png_bytes
from tests.fakescope_cli.evidence.conftest import ids, only

AI_CREATED = [{"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]
CAPTURED = [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]


@pytest.fixture(scope="module")
def signer() -> TestSigner:
    return TestSigner()


@pytest.mark.parametrize(
    ("mime", "make", "name"), [("image/jpeg", jpeg_bytes, "s.jpg"), ("image/png", png_bytes, "s.png")]
)
def test_signed_ai_declaration(gather, signer, mime, make, name) -> None:
    report = gather(signer.sign(make(), mime, AI_CREATED, generator="Image Maker"), name, signals=False)
    manifest = only(report, "c2pa.manifest")
    assert manifest.value["state"] == "Valid" and manifest.value["failures"] == []
    assert "Image Maker" in manifest.value["claim_generator"]
    assert "not on a trust list" in manifest.summary
    ai = only(report, "c2pa.ai_source")
    assert (ai.points_to, ai.strength) == (POINTS_AI, STRONG)


def test_trust_anchor_makes_it_trusted(gather, signer) -> None:
    data = signer.sign(jpeg_bytes(), "image/jpeg", AI_CREATED)
    report = gather(data, "t.jpg", signals=False, c2pa_trust_anchors=signer.root_pem)
    manifest = only(report, "c2pa.manifest")
    assert manifest.value["state"] == "Trusted" and "on the trust list" in manifest.summary


def test_tampered_pixels_fail_validation(gather, signer) -> None:
    data = bytearray(signer.sign(jpeg_bytes(), "image/jpeg", AI_CREATED))
    data[-200] ^= 0xFF  # inside the entropy-coded image data
    report = gather(bytes(data), "tampered.jpg", signals=False)
    manifest = only(report, "c2pa.manifest")
    assert manifest.value["state"] == "Invalid"
    assert any("dataHash.mismatch" in code for code in manifest.value["failures"])
    assert "FAILED" in manifest.summary
    assert "the pixels were changed after this file was signed" in manifest.summary  # plain words
    from fakescope_cli.evidence.fusion import fuse

    reason = fuse(report.items, None).reason  # said in the verdict's reason too, at the report's top
    assert "do not validate (the pixels were changed after this file was signed" in reason
    assert only(report, "c2pa.ai_source").strength == "moderate"  # a broken signature decides nothing


def test_signed_capture_decides_only_under_a_trusted_signer(gather, signer) -> None:
    data = signer.sign(jpeg_bytes(), "image/jpeg", CAPTURED)
    untrusted = only(gather(data, "cam.jpg", signals=False), "c2pa.capture_source")
    assert (untrusted.points_to, untrusted.strength) == (POINTS_CAMERA, "weak")
    assert "anyone can sign" in untrusted.summary
    other_root = TestSigner().root_pem
    elsewhere = gather(data, "cam.jpg", signals=False, c2pa_trust_anchors=other_root)
    assert only(elsewhere, "c2pa.capture_source").strength == "weak"
    assert "not on the given trust list" in only(elsewhere, "c2pa.manifest").summary
    trusted = gather(data, "cam.jpg", signals=False, c2pa_trust_anchors=signer.root_pem)
    capture = only(trusted, "c2pa.capture_source")
    assert (capture.points_to, capture.strength) == (POINTS_CAMERA, STRONG)


def test_capture_then_edit_does_not_decide(gather, signer) -> None:
    actions = CAPTURED + [{"action": "c2pa.color_adjustments"}]
    report = gather(signer.sign(jpeg_bytes(), "image/jpeg", actions), "edited.jpg", signals=False)
    assert only(report, "c2pa.capture_source").strength == "weak"
    assert only(report, "c2pa.edits").value == ["c2pa.color_adjustments"]


def test_no_manifest(gather) -> None:
    report = gather(jpeg_bytes(), "plain.jpg", signals=False)
    assert "c2pa.absent" in ids(report) and "c2pa.manifest" not in ids(report)


def test_damaged_store_is_reported(gather, signer) -> None:
    data = bytearray(signer.sign(jpeg_bytes(), "image/jpeg", AI_CREATED))
    start = data.find(b"jumb")
    data[start + 20 : start + 400] = b"\x00" * 380  # wreck the JUMBF boxes, keep the segment lengths
    report = gather(bytes(data), "wrecked.jpg", signals=False)
    assert {"c2pa.unreadable"} & ids(report) or only(report, "c2pa.manifest").value["state"] == "Invalid"
    assert "hash.sha256" in ids(report)


def _pillow_bytes(fmt: str) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (120, 80, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "TIFF", "WEBP", "JPEG"])
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_file_without_c2pa_is_not_called_damaged_c2pa(gather, fmt: str, damage: str) -> None:
    """c2pa-rs fails on any damaged file; only a file that holds a manifest store may be said to
    carry unreadable Content Credentials (the audit found 13 such false reports in 14)."""
    data = bytearray(_pillow_bytes(fmt))
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:
        data[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    report = gather(bytes(data), f"broken.{fmt.lower()}", signals=False)
    assert "c2pa.unreadable" not in ids(report)
    assert "c2pa.absent" in ids(report)


def test_a_truncated_file_that_holds_a_store_is_still_reported(gather, signer) -> None:
    data = signer.sign(png_bytes(), "image/png", AI_CREATED)
    start = data.find(b"jumd")
    assert start > 0
    cut = data[: start + 200]  # the store begins, then the file ends
    report = gather(cut, "cut.png", signals=False)
    assert "c2pa.unreadable" in ids(report) or "c2pa.manifest" in ids(report)
    assert "c2pa.absent" not in ids(report)
