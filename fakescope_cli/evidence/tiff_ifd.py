"""A bounded walk over an EXIF (TIFF) block, done before any third-party parser sees it.

exifread loops once per value of a tag, so one entry claiming four billion values is a hang; this
walk refuses such blocks first. It also pulls out the three blobs exifread skips in its fast mode:
the maker note (presence only), the UserComment and the IFD1 thumbnail.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
MAKER_NOTE, USER_COMMENT = 0x927C, 0x9286
SUB_IFDS = {0x8769: "Exif", 0x8825: "GPS", 0xA005: "Interop"}
BIG_ALLOWED = {MAKER_NOTE, USER_COMMENT, 0x02BC, 0x8773, 0x83BB}  # maker note, comment, XMP, ICC, IPTC
MAX_ENTRY = 64 << 10
MAX_IFDS = 8
MAX_ENTRIES = 1000
MAX_THUMBNAIL = 256 << 10


@dataclass
class TiffFacts:
    problem: str | None = None
    has_makernote: bool = False
    user_comment: bytes | None = None
    thumbnail: bytes | None = None
    # Fields longer than MAX_ENTRY: (IFD, tag, bytes). They are cut to MAX_ENTRY in ``block``, the
    # copy exifread reads, so one huge ImageDescription does not cost the camera make.
    oversized: list[tuple[str, int, int]] = field(default_factory=list)
    block: bytes | None = None


def check_tiff(block: bytes) -> TiffFacts:
    """Walk IFD0, IFD1 and the Exif/GPS/Interop sub-IFDs; ``problem`` says why a block is refused."""
    facts = TiffFacts()
    if len(block) < 8:
        facts.problem = "EXIF block too short"
        return facts
    if block[:4] == b"II*\x00":
        order = "<"
    elif block[:4] == b"MM\x00*":
        order = ">"
    else:
        facts.problem = "not a TIFF structure"
        return facts
    (first,) = struct.unpack(order + "I", block[4:8])
    queue: list[tuple[int, str]] = [(first, "IFD0")]
    seen: set[int] = set()
    thumb_offset = thumb_length = None
    patched: bytearray | None = None
    while queue and len(seen) < MAX_IFDS:
        offset, name = queue.pop(0)
        if offset in seen or offset == 0:
            continue
        seen.add(offset)
        if offset + 2 > len(block):
            facts.problem = f"{name} lies outside the EXIF block"
            return facts
        (count,) = struct.unpack(order + "H", block[offset : offset + 2])
        if count > MAX_ENTRIES or offset + 2 + 12 * count + 4 > len(block):
            facts.problem = f"{name} claims {count} entries, more than the block holds"
            return facts
        for index in range(count):
            entry = block[offset + 2 + 12 * index : offset + 14 + 12 * index]
            tag, kind, values = struct.unpack(order + "HHI", entry[:8])
            size = TYPE_SIZES.get(kind)
            if size is None:
                continue
            total = size * values
            where = struct.unpack(order + "I", entry[8:12])[0] if total > 4 else offset + 10 + 12 * index
            if where + total > len(block):
                facts.problem = f"{name} tag 0x{tag:04X} claims {values} values, beyond the end of the block"
                return facts
            if total > MAX_ENTRY and tag not in BIG_ALLOWED:
                facts.oversized.append((name, tag, total))
                cut = struct.pack(order + "I", MAX_ENTRY // size)
                start = offset + 2 + 12 * index + 4
                patched = patched if patched is not None else bytearray(block)
                patched[start : start + 4] = cut
                continue
            if tag in SUB_IFDS and kind in (4, 13) and values == 1:
                queue.append((struct.unpack(order + "I", entry[8:12])[0], SUB_IFDS[tag]))
            elif tag == MAKER_NOTE:
                facts.has_makernote = True
            elif tag == USER_COMMENT:
                facts.user_comment = block[where : where + total]
            elif name == "IFD1" and tag in (0x0201, 0x0202) and kind in (3, 4) and values == 1:
                value = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8 : 8 + size])[0]
                thumb_offset, thumb_length = (value, thumb_length) if tag == 0x0201 else (thumb_offset, value)
        if name == "IFD0":
            (next_ifd,) = struct.unpack(order + "I", block[offset + 2 + 12 * count : offset + 6 + 12 * count])
            queue.append((next_ifd, "IFD1"))
    if (
        thumb_offset
        and thumb_length
        and thumb_length <= MAX_THUMBNAIL
        and thumb_offset + thumb_length <= len(block)
    ):
        facts.thumbnail = block[thumb_offset : thumb_offset + thumb_length]
    facts.block = bytes(patched) if patched is not None else block
    return facts
