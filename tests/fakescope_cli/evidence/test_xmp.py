"""IPTC / XMP: DigitalSourceType in its different spellings, creator tool, history, hostile XML."""

from __future__ import annotations

import pytest

from fakescope_cli.evidence.items import POINTS_AI, POINTS_CAMERA, POINTS_EDITED, STRONG, WEAK
from fakescope_cli.evidence.xmp import parse_xmp
from tests.fakescope_cli.evidence.builders import (
    IPTC,
    jpeg_bytes,
    jpeg_with_xmp,
    png_bytes,
    xmp_description,
    xmp_packet,
)
from tests.fakescope_cli.evidence.conftest import ids, only


@pytest.mark.parametrize(
    ("code", "points", "strength"),
    [
        ("trainedAlgorithmicMedia", POINTS_AI, STRONG),
        ("compositeWithTrainedAlgorithmicMedia", POINTS_AI, STRONG),
        ("digitalCapture", POINTS_CAMERA, WEAK),
        ("composite", POINTS_EDITED, "moderate"),
    ],
)
def test_digital_source_type_as_attribute(gather, code, points, strength) -> None:
    report = gather(jpeg_with_xmp(xmp_packet(xmp_description(source_type=code))), "x.jpg", signals=False)
    item = only(report, f"xmp.digital_source_type.{code}")
    assert (item.points_to, item.strength) == (points, strength)
    assert item.value == IPTC + code


def test_digital_source_type_as_element_and_resource() -> None:
    element = xmp_packet(
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{IPTC}trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
        "</rdf:Description>"
    )
    resource = xmp_packet(
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{IPTC}trainedAlgorithmicMedia"/>'
        "</rdf:Description>"
    )
    for packet in (element, resource):
        assert parse_xmp(packet).source_types == [IPTC + "trainedAlgorithmicMedia"]


def test_xmp_in_png_itxt(gather) -> None:
    packet = xmp_packet(xmp_description(source_type="trainedAlgorithmicMedia")).decode()
    report = gather(png_bytes(itexts={"XML:com.adobe.xmp": packet}), "x.png", signals=False)
    assert "xmp.digital_source_type.trainedAlgorithmicMedia" in ids(report)


def test_creator_tool_and_history(gather) -> None:
    packet = xmp_packet(
        xmp_description(creator_tool="Capture One 23", agents=("Adobe Photoshop 25.1", "GIMP 2.10"))
    )
    report = gather(jpeg_with_xmp(packet), "h.jpg", signals=False)
    assert only(report, "xmp.creator_tool").value == "Capture One 23"
    history = only(report, "xmp.history")
    assert history.value == ["Adobe Photoshop 25.1", "GIMP 2.10"] and history.points_to == POINTS_EDITED


def test_no_xmp(gather) -> None:
    assert not any(i.startswith("xmp.") for i in ids(gather(jpeg_bytes(), "p.jpg", signals=False)))


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><a>&lol3;</a></x:xmpmeta>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><a>&ext;</a></x:xmpmeta>'
)


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY, "<x:xmpmeta><unclosed>"])
def test_hostile_xml_is_refused_and_reported(gather, hostile) -> None:
    report = gather(jpeg_with_xmp(hostile.encode()), "evil.jpg", signals=False)
    item = only(report, "xmp.unreadable")
    assert "root:" not in str(item.to_dict())  # nothing from /etc/passwd
    assert "lollollol" not in str(item.to_dict())
    assert "hash.sha256" in ids(report)
