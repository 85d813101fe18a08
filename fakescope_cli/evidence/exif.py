"""EXIF findings (read with exifread): camera identity, capture facts and consistency checks."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from fakescope_cli.evidence.items import (
    MODERATE,
    NONE,
    POINTS_CAMERA,
    POINTS_EDITED,
    POINTS_NEUTRAL,
    WEAK,
    EvidenceItem,
)
from fakescope_cli.evidence.text import clean_text, short
from fakescope_cli.evidence.tiff_ifd import TiffFacts, check_tiff

log = logging.getLogger(__name__)

EDITORS = re.compile(  # whole words: "canvas" is not Canva
    r"\b(?:photoshop|lightroom|gimp|affinity|pixelmator|snapseed|capture one|darktable|rawtherapee|"
    r"luminar|paint\.net|picsart|facetune|canva|photopea|krita|acdsee|camera raw)\b",
    re.IGNORECASE,
)
_LIMITS_EXIF = "EXIF is written by whoever saved the file and is easy to forge or strip."


def read_exif_tags(block: bytes) -> tuple[dict[str, Any], TiffFacts]:
    """exifread's tags for an EXIF (TIFF) block, after our own bounded walk has accepted it.

    Raises ValueError when the block is malformed or hostile. exifread runs in its fast mode (no
    maker-note parsing); the maker note, UserComment and thumbnail come from our walk."""
    import exifread

    facts = check_tiff(block)
    if facts.problem:
        raise ValueError(facts.problem)
    try:
        tags = exifread.process_file(io.BytesIO(facts.block or block), details=False, extract_thumbnail=False)
    except Exception as exc:  # exifread raises many types on malformed blocks
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    return dict(tags), facts


def _text(tags: dict[str, Any], name: str) -> str | None:
    tag = tags.get(name)
    if tag is None:
        return None
    text = clean_text(str(tag.printable if hasattr(tag, "printable") else tag), 400).strip()
    return text or None


MAX_FIELD = 64 << 10


def exif_text_fields(tags: dict[str, Any], facts: TiffFacts) -> dict[str, str]:
    """The free-text fields generators and editors write into (for the generator detector)."""
    names = {
        "Software": "Image Software",
        "Make": "Image Make",
        "Model": "Image Model",
        "ImageDescription": "Image ImageDescription",
    }
    fields = {}
    for label, name in names.items():
        tag = tags.get(name)
        if tag is not None and (text := clean_text(str(tag.printable), MAX_FIELD).strip()):
            fields[label] = text
    if facts.user_comment and (comment := clean_text(_user_comment(facts.user_comment), MAX_FIELD).strip()):
        fields["UserComment"] = comment
    return fields


def _user_comment(raw: bytes) -> str:
    """EXIF UserComment: an 8-byte character-code header, then the text."""
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        for codec in ("utf-16-be", "utf-16-le"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    if head.startswith(b"ASCII") or head == b"\0" * 8:
        return body.decode("utf-8", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _thumbnail_size(blob: bytes | None) -> tuple[int, int] | None:
    if not blob:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob), formats=["JPEG"]) as thumb:
            return thumb.size
    except Exception:
        return None


def exif_findings(
    tags: dict[str, Any], facts: TiffFacts, image_size: tuple[int, int] | None
) -> list[EvidenceItem]:
    """Findings from parsed EXIF tags; ``image_size`` is the stored (un-rotated) pixel size."""
    items: list[EvidenceItem] = []
    make, model = _text(tags, "Image Make"), _text(tags, "Image Model")
    lens = _text(tags, "EXIF LensModel")
    captured = _text(tags, "EXIF DateTimeOriginal")
    software = _text(tags, "Image Software")
    has_makernote = facts.has_makernote
    has_gps = any(name.startswith("GPS ") for name in tags)
    if make or model:
        camera = " ".join(part for part in (make, model) if part)
        items.append(
            EvidenceItem(
                "exif.camera",
                "metadata",
                f"camera named in EXIF: {short(camera)}" + (f", lens {short(lens)}" if lens else ""),
                {"make": make, "model": model, "lens": lens},
                points_to=POINTS_CAMERA,
                strength=WEAK,
                location="EXIF IFD0 Make/Model",
                limits=_LIMITS_EXIF,
            )
        )
        if has_makernote:
            items.append(
                EvidenceItem(
                    "exif.maker_notes",
                    "metadata",
                    "maker notes present (camera-private block that editors and generators rarely keep)",
                    True,
                    points_to=POINTS_CAMERA,
                    strength=WEAK,
                    location="EXIF MakerNote",
                    limits=_LIMITS_EXIF,
                )
            )
        else:
            items.append(
                EvidenceItem(
                    "exif.no_maker_notes",
                    "metadata",
                    "camera make present but no maker notes: the EXIF was probably rewritten by software",
                    False,
                    points_to=POINTS_EDITED,
                    strength=WEAK,
                    location="EXIF",
                    limits="Some phones and cameras write no maker notes; a hint, not a finding.",
                )
            )
    if captured:
        items.append(
            EvidenceItem(
                "exif.capture_time",
                "metadata",
                f"capture time {captured}",
                captured,
                location="EXIF DateTimeOriginal",
                limits=_LIMITS_EXIF,
            )
        )
    if has_gps:
        items.append(
            EvidenceItem(
                "exif.gps",
                "metadata",
                "GPS position recorded",
                True,
                points_to=POINTS_CAMERA,
                strength=WEAK,
                location="EXIF GPS IFD",
                limits=_LIMITS_EXIF,
            )
        )
    if software and EDITORS.search(software):
        items.append(
            EvidenceItem(
                "exif.software_editor",
                "metadata",
                f"saved by an editing program: {short(software)}",
                software,
                points_to=POINTS_EDITED,
                strength=MODERATE,
                location="EXIF IFD0 Software",
                limits=_LIMITS_EXIF,
            )
        )
    elif software:
        items.append(
            EvidenceItem(
                "exif.software",
                "metadata",
                f"software: {short(software)}",
                software,
                location="EXIF IFD0 Software",
                limits=_LIMITS_EXIF,
            )
        )
    thumb = _thumbnail_size(facts.thumbnail)
    if thumb and image_size:
        items.append(_thumbnail_check(thumb, image_size))
    return items


def _thumbnail_check(thumb: tuple[int, int], image: tuple[int, int]) -> EvidenceItem:
    thumb_ratio, image_ratio = thumb[0] / thumb[1], image[0] / image[1]
    # Orientation may be swapped between the two; compare the shape, not the direction.
    difference = min(abs(thumb_ratio - image_ratio), abs(1 / thumb_ratio - image_ratio)) / image_ratio
    value = {"thumbnail": list(thumb), "image": list(image), "relative_difference": round(difference, 4)}
    if difference > 0.05:
        return EvidenceItem(
            "exif.thumbnail_mismatch",
            "metadata",
            f"embedded thumbnail {thumb[0]}x{thumb[1]} has another shape than the image "
            f"{image[0]}x{image[1]}: the picture was probably cropped after the thumbnail was made",
            value,
            points_to=POINTS_EDITED,
            strength=MODERATE,
            location="EXIF IFD1 thumbnail",
            limits="Letterboxed thumbnails (black bars) also differ in shape; look at the thumbnail.",
        )
    return EvidenceItem(
        "exif.thumbnail",
        "metadata",
        f"embedded thumbnail {thumb[0]}x{thumb[1]} has the image's shape",
        value,
        points_to=POINTS_NEUTRAL,
        strength=NONE,
        location="EXIF IFD1 thumbnail",
    )
