"""Every metadata field of a file, grouped by where it was found (like ``exiftool -a -G1``): EXIF
by IFD, XMP by namespace, IPTC, PNG text chunks, JPEG comments. Values are exact (capped); the CLI
and JSON writers escape them. Terminal control sequences found in a value are reported: someone
put them there to act on whoever reads the file's metadata in a terminal."""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from fakescope_cli.evidence.container import read_container

MAX_VALUE = 2000  # characters kept of one value
MAX_FIELDS = 2000  # fields kept of one file
_CONTROL_SEQUENCE = re.compile(r"\x1b[\[\]PX^_@-Z\\]|[\x07\x9b\x9d]")
XMP_PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
}
IPTC_NAMES = {
    (2, 5): "ObjectName",
    (2, 25): "Keywords",
    (2, 55): "DateCreated",
    (2, 80): "By-line",
    (2, 90): "City",
    (2, 101): "Country",
    (2, 105): "Headline",
    (2, 110): "Credit",
    (2, 115): "Source",
    (2, 116): "CopyrightNotice",
    (2, 120): "Caption-Abstract",
    (2, 122): "Writer-Editor",
}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def has_control_sequence(value: str | bytes) -> bool:
    """Whether ``value`` holds a terminal control sequence (ESC-introduced, CSI, OSC or BEL)."""
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return _CONTROL_SEQUENCE.search(text) is not None


@dataclass(frozen=True)
class MetadataField:
    group: str  # "EXIF Image", "EXIF EXIF", "GPS", "XMP dc", "IPTC", "PNG text", "JPEG comment" ...
    name: str
    value: str  # exact, capped at MAX_VALUE characters; escape it to show it
    truncated: bool = False


@dataclass
class MetadataDump:
    fields: list[MetadataField] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def control_sequences(self) -> list[MetadataField]:
        """Fields holding terminal control sequences (escape, OSC, CSI, BEL)."""
        return [f for f in self.fields if has_control_sequence(f.value)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": [asdict(f) for f in self.fields],
            "problems": self.problems,
            "control_sequences": [f"{f.group}: {f.name}" for f in self.control_sequences],
        }

    def add(self, group: str, name: str, value: object) -> None:
        if len(self.fields) >= MAX_FIELDS:
            return
        if isinstance(value, bytes):
            value = value[: MAX_VALUE * 4].decode("utf-8", errors="replace")
        text = str(value)
        self.fields.append(MetadataField(group, name, text[:MAX_VALUE], len(text) > MAX_VALUE))


def dump_metadata(data: bytes) -> MetadataDump:
    """All the metadata of one file; never raises on malformed input (problems are recorded)."""
    dump = MetadataDump()
    info = read_container(data)
    dump.problems += info.problems
    for entry in info.texts:
        group = "JPEG comment" if entry.location.startswith("JPEG COM") else entry.location
        dump.add(group, entry.key, entry.raw or entry.text)
    if info.exif_block is not None:
        _exif(info.exif_block, dump)
    for packet in info.xmp:
        _xmp(packet, dump)
    if info.format == "JPEG":
        _iptc(data, dump)
    return dump


def _exif(block: bytes, dump: MetadataDump) -> None:
    from fakescope_cli.evidence.exif import read_exif_tags

    try:
        tags, facts = read_exif_tags(block)
    except ValueError as exc:
        dump.problems.append(f"EXIF unreadable ({exc})")
        return
    for key in sorted(tags):
        if key in ("JPEGThumbnail", "TIFFThumbnail") or key.startswith("MakerNote"):
            continue
        group, _, name = key.partition(" ")
        dump.add(f"EXIF {group}" if group != "GPS" else "GPS", name or group, tags[key].printable)
    if facts.has_makernote:
        dump.add("EXIF EXIF", "MakerNote", "(present; maker notes are binary and not listed)")
    for ifd, tag, size in facts.oversized:
        dump.problems.append(f"EXIF {ifd} tag 0x{tag:04X} is {size} bytes long; read cut")


def _xmp(packet: bytes, dump: MetadataDump) -> None:
    from fakescope_cli.evidence.xmp import parse_packet

    root, error = parse_packet(packet)
    if root is None:
        dump.problems.append(f"XMP unreadable ({error})")
        return

    def name_of(tag: str) -> tuple[str, str]:
        uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        return f"XMP {XMP_PREFIXES.get(uri, uri or '?')}", local

    for count, element in enumerate(root.iter()):
        if count > 20000:
            dump.problems.append("XMP has too many elements; the rest were not listed")
            break
        if element.tag == f"{{{_RDF}}}Description":
            for attribute, value in element.attrib.items():
                if not attribute.startswith(f"{{{_RDF}}}"):
                    dump.add(*name_of(attribute), value)
            continue
        value = (element.text or "").strip()
        if value and not element.tag.startswith(f"{{{_RDF}}}"):
            dump.add(*name_of(element.tag), value)
        elif value and element.tag == f"{{{_RDF}}}li":
            dump.add("XMP list item", "li", value)


def _iptc(data: bytes, dump: MetadataDump) -> None:
    from PIL import Image, IptcImagePlugin

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            records = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception as exc:  # a hostile APP13 block must not stop the dump
        dump.problems.append(f"IPTC unreadable ({type(exc).__name__})")
        return
    for key, value in sorted(records.items()):
        name = IPTC_NAMES.get(key, f"{key[0]}:{key[1]}")
        for item in value if isinstance(value, list) else [value]:
            dump.add("IPTC", name, item)
