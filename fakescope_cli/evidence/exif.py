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

log = logging.getLogger(__name__)

EDITORS = re.compile(
    r"photoshop|lightroom|gimp|affinity|pixelmator|snapseed|capture one|darktable|rawtherapee|"
    r"luminar|paint\.net|picsart|facetune|canva|photopea|krita|acdsee|camera raw",
    re.IGNORECASE,
)
_LIMITS_EXIF = "EXIF is written by whoever saved the file and is easy to forge or strip."


def read_exif_tags(data: bytes) -> dict[str, Any]:
    """exifread's tags, or raises ValueError when the block is present but unreadable."""
    import exifread

    try:
        tags = exifread.process_file(io.BytesIO(data), details=True, extract_thumbnail=True)
    except Exception as exc:  # exifread raises many types on malformed blocks
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    return dict(tags)


def _text(tags: dict[str, Any], name: str) -> str | None:
    tag = tags.get(name)
    if tag is None:
        return None
    text = clean_text(str(tag.printable if hasattr(tag, "printable") else tag), 400).strip()
    return text or None


def exif_text_fields(tags: dict[str, Any]) -> dict[str, str]:
    """The free-text fields generators and editors write into (for the generator detector)."""
    names = {
        "Software": "Image Software",
        "Make": "Image Make",
        "Model": "Image Model",
        "ImageDescription": "Image ImageDescription",
        "Artist": "Image Artist",
        "UserComment": "EXIF UserComment",
    }
    fields = {}
    for label, name in names.items():
        tag = tags.get(name)
        if tag is None:
            continue
        raw = tag.printable if label != "UserComment" else _user_comment(tag)
        text = clean_text(str(raw)).strip()
        if text:
            fields[label] = text
    return fields


def _user_comment(tag: Any) -> str:
    values = tag.values
    if isinstance(values, (bytes, bytearray)):
        raw = bytes(values)
    elif isinstance(values, list) and all(isinstance(v, int) for v in values):
        raw = bytes(v & 0xFF for v in values)
    else:
        return str(tag.printable)
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        for codec in ("utf-16-be", "utf-16-le"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    return (
        body.decode("utf-8", errors="replace")
        if head[:5] in (b"ASCII", b"\0\0\0\0\0")
        else str(tag.printable)
    )


def _thumbnail_size(tags: dict[str, Any]) -> tuple[int, int] | None:
    blob = tags.get("JPEGThumbnail")
    if not isinstance(blob, bytes) or len(blob) > 256 << 10:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob), formats=["JPEG"]) as thumb:
            return thumb.size
    except Exception:
        return None


def exif_findings(tags: dict[str, Any], image_size: tuple[int, int] | None) -> list[EvidenceItem]:
    """Findings from parsed EXIF tags; ``image_size`` is the stored (un-rotated) pixel size."""
    items: list[EvidenceItem] = []
    make, model = _text(tags, "Image Make"), _text(tags, "Image Model")
    lens = _text(tags, "EXIF LensModel")
    captured = _text(tags, "EXIF DateTimeOriginal")
    software = _text(tags, "Image Software")
    has_makernote = "EXIF MakerNote" in tags or any(name.startswith("MakerNote ") for name in tags)
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
    thumb = _thumbnail_size(tags)
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
