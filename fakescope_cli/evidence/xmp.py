"""IPTC / XMP findings: DigitalSourceType, creator tool, edit history. XML is parsed with
defusedxml, so DTDs and entity expansion are refused outright."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakescope_cli.evidence.items import (
    MODERATE,
    POINTS_AI,
    POINTS_CAMERA,
    POINTS_EDITED,
    POINTS_NEUTRAL,
    STRONG,
    WEAK,
    EvidenceItem,
)
from fakescope_cli.evidence.text import clean_text, short

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
_RDF_RESOURCE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
MAX_ELEMENTS = 20_000

# IPTC Digital Source Type codes: what each says about how the image was made.
SOURCE_TYPES: dict[str, tuple[str, str, str]] = {
    "trainedAlgorithmicMedia": (POINTS_AI, STRONG, "made by a trained generative model"),
    "compositeWithTrainedAlgorithmicMedia": (
        POINTS_AI,
        STRONG,
        "a composite that includes generative-AI elements",
    ),
    "algorithmicallyEnhanced": (
        POINTS_EDITED,
        WEAK,
        "captured, then enhanced by an algorithm without changing the main content",
    ),
    "algorithmicMedia": (POINTS_AI, WEAK, "made by an algorithm without training data (procedural)"),
    "compositeSynthetic": (POINTS_AI, MODERATE, "a composite including synthetic elements"),
    "digitalCapture": (POINTS_CAMERA, WEAK, "captured by a digital camera (declared, unsigned)"),
    "computationalCapture": (POINTS_CAMERA, WEAK, "captured with computational photography (declared)"),
    "negativeFilm": (POINTS_CAMERA, WEAK, "scanned from a film negative (declared)"),
    "positiveFilm": (POINTS_CAMERA, WEAK, "scanned from film (declared)"),
    "print": (POINTS_CAMERA, WEAK, "scanned from a print (declared)"),
    "humanEdits": (POINTS_EDITED, WEAK, "captured, then edited by a person (declared)"),
    "minorHumanEdits": (POINTS_EDITED, WEAK, "captured, with minor human edits (declared; retired term)"),
    "digitalArt": (POINTS_NEUTRAL, WEAK, "made by a person with digital tools (declared)"),
    "softwareImage": (POINTS_NEUTRAL, WEAK, "made by software (declared; retired term)"),
    "composite": (POINTS_EDITED, MODERATE, "a composite of several images (declared)"),
    "compositeCapture": (POINTS_EDITED, WEAK, "a composite of captures (declared)"),
    "digitalCreation": (POINTS_NEUTRAL, WEAK, "drawn or made with software by a person (declared)"),
    "screenCapture": (POINTS_NEUTRAL, WEAK, "a screenshot (declared)"),
    "virtualRecording": (POINTS_NEUTRAL, WEAK, "recorded from a virtual scene (declared)"),
    "dataDrivenMedia": (POINTS_NEUTRAL, WEAK, "rendered from data (declared)"),
}
LIMITS_XMP = "XMP is ordinary, unsigned metadata: anyone can add, change or remove it."


@dataclass
class XmpFacts:
    source_types: list[str] = field(default_factory=list)
    creator_tools: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # xmpMM:History softwareAgent entries
    texts: dict[str, str] = field(default_factory=dict)  # credit, description ... for generator markers
    error: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_packet(packet: bytes) -> tuple[Any, str | None]:
    """(root element, None), or (None, why) when the packet cannot be parsed (DTDs refused)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    text = packet.decode("utf-8", errors="replace")
    start = text.find("<x:xmpmeta")
    end = text.rfind("</x:xmpmeta>")
    if start >= 0 and end > start:
        text = text[start : end + len("</x:xmpmeta>")]
    else:
        start, end = text.find("<rdf:RDF"), text.rfind("</rdf:RDF>")
        if start >= 0 and end > start:
            text = text[start : end + len("</rdf:RDF>")]
    try:
        return fromstring(text, forbid_dtd=True), None
    except (DefusedXmlException, ParseError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {clean_text(str(exc), 200)}"


def parse_xmp(packet: bytes) -> XmpFacts:
    """Facts from one XMP packet; ``error`` is set (never raised) when it cannot be parsed."""
    facts = XmpFacts()
    root, error = parse_packet(packet)
    if root is None:
        facts.error = error
        return facts
    parents: dict[object, object] = {}
    for count, element in enumerate(root.iter()):
        if count > MAX_ELEMENTS:
            facts.error = "XMP has too many elements; the rest were not read"
            break
        for child in element:
            parents[child] = element
        name = _local(element.tag)
        if name == "li":  # a value inside rdf:Alt / Seq / Bag: it belongs to the property above
            container = parents.get(element)
            owner = parents.get(container) if container is not None else None
            name = _local(owner.tag) if owner is not None else name  # type: ignore[attr-defined]
        _collect(name, (element.text or "").strip(), element.get(_RDF_RESOURCE), facts)
        for name, value in element.attrib.items():
            _collect(_local(name), value.strip(), None, facts)
    return facts


def _collect(name: str, text: str, resource: str | None, facts: XmpFacts) -> None:
    value = clean_text(resource or text, 400)
    if not value:
        return
    if name == "DigitalSourceType":
        facts.source_types.append(value)
    elif name == "CreatorTool":
        facts.creator_tools.append(value)
    elif name == "softwareAgent":
        facts.agents.append(value)
    elif name in ("Credit", "description", "Description", "title", "creator", "Source", "Title"):
        facts.texts.setdefault(name, value)


def xmp_findings(facts: XmpFacts, location: str) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []
    if facts.error:
        items.append(
            EvidenceItem(
                "xmp.unreadable",
                "integrity",
                f"XMP packet could not be parsed ({facts.error})",
                location=location,
                limits="Entity expansion and DTDs are refused on purpose.",
            )
        )
    for raw in dict.fromkeys(facts.source_types):
        code = raw.rsplit("/", 1)[-1]
        points, strength, meaning = SOURCE_TYPES.get(
            code, (POINTS_NEUTRAL, WEAK, "an unrecognised source type")
        )
        items.append(
            EvidenceItem(
                f"xmp.digital_source_type.{code}" if code in SOURCE_TYPES else "xmp.digital_source_type",
                "provenance",
                f"IPTC DigitalSourceType '{short(code, 60)}': {meaning}",
                raw,
                points_to=points,
                strength=strength,
                location=f"{location}, Iptc4xmpExt:DigitalSourceType",
                limits=LIMITS_XMP,
            )
        )
    for tool in dict.fromkeys(facts.creator_tools):
        items.append(
            EvidenceItem(
                "xmp.creator_tool",
                "metadata",
                f"creator tool: {short(tool)}",
                tool,
                location=f"{location}, xmp:CreatorTool",
                limits=LIMITS_XMP,
            )
        )
    if facts.agents:
        agents = list(dict.fromkeys(facts.agents))[:20]
        items.append(
            EvidenceItem(
                "xmp.history",
                "metadata",
                f"edit history names {len(agents)} program(s): {short(', '.join(agents))}",
                agents,
                points_to=POINTS_EDITED,
                strength=WEAK,
                location=f"{location}, xmpMM:History",
                limits=LIMITS_XMP,
            )
        )
    return items
