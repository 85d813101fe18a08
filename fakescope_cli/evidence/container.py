"""A capped walk over the file's container: PNG chunks, JPEG segments, WebP chunks.

Collects what the evidence analysers read (text chunks, comments, XMP packets, quantization
tables, C2PA stores) without decoding pixels. Every count and size is capped: a hostile file
can make this stop early, never run long or allocate much.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from fakescope_cli.evidence.text import clean_text
from fakescope_cli.imageio import sniff_format

MAX_SEGMENTS = 4096
MAX_TEXT_BYTES = 256 << 10  # a single text chunk or comment, after decompression
MAX_XMP_BYTES = 1 << 20
MAX_INFLATED = 8 << 20  # all compressed chunks of one file together
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class TextEntry:
    """A keyed text found in the container (PNG text chunk, JPEG comment ...)."""

    key: str
    text: str  # cleaned (control characters and escape sequences removed) and capped
    location: str
    raw: bytes | str = b""  # as found (capped), for the metadata dump; never shown unescaped


@dataclass
class ContainerInfo:
    format: str | None = None
    texts: list[TextEntry] = field(default_factory=list)
    xmp: list[bytes] = field(default_factory=list)
    quant_tables: dict[int, list[int]] = field(default_factory=dict)  # table id -> 64 values, zigzag order
    jpeg_frames: list[str] = field(default_factory=list)  # "baseline" / "progressive" ...
    jpeg_markers: list[str] = field(default_factory=list)  # APPn identifiers in file order
    has_c2pa: bool = False
    has_exif: bool = False
    exif_block: bytes | None = None  # the first EXIF (TIFF) structure found
    problems: list[str] = field(default_factory=list)
    inflated: int = 0  # bytes decompressed so far (capped per file)

    def keep_exif(self, block: bytes) -> None:
        self.has_exif = True
        if self.exif_block is None:
            self.exif_block = block[6:] if block.startswith(b"Exif\0\0") else block


def _inflate(data: bytes, limit: int, info: ContainerInfo, where: str) -> bytes:
    """Decompress at most ``limit`` bytes, and no more than the file's remaining budget."""
    budget = min(limit, MAX_INFLATED - info.inflated)
    if budget <= 0:
        info.problems.append(
            f"{where}: compressed text over the {MAX_INFLATED >> 20} MiB per-file budget, skipped"
        )
        return b""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, budget)
    info.inflated += len(out)
    if inflater.unconsumed_tail:
        info.problems.append(f"{where}: compressed text expands beyond {budget} bytes (truncated)")
    return out


def _png_text(kind: bytes, data: bytes, info: ContainerInfo) -> tuple[str, bytes] | None:
    key, sep, rest = data.partition(b"\0")
    if not sep:
        return None
    name = key.decode("latin-1")
    limit = MAX_XMP_BYTES if name == "XML:com.adobe.xmp" else MAX_TEXT_BYTES
    where = f"PNG {kind.decode()} chunk"
    if kind == b"tEXt":
        return name, rest
    if kind == b"zTXt":
        return name, _inflate(rest[1:], limit, info, where)
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return None
    compressed = rest[0] == 1
    _lang, _, tail = rest[2:].partition(b"\0")
    _translated, _, text = tail.partition(b"\0")
    return name, _inflate(text, limit, info, where) if compressed else text


def _walk_png(data: bytes, info: ContainerInfo) -> None:
    pos = len(PNG_SIGNATURE)
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > len(data):
            info.problems.append("PNG ends without an IEND chunk")
            return
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            info.problems.append(f"PNG chunk {kind!r} is truncated")
            return
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            try:
                parsed = _png_text(kind, body, info)
            except zlib.error:
                parsed = None
                info.problems.append(f"PNG {kind.decode()} chunk has damaged compressed text")
            if parsed is not None:
                key, raw = parsed
                location = f"PNG {kind.decode()} chunk '{clean_text(key, 80)}'"
                if key == "XML:com.adobe.xmp":
                    info.xmp.append(raw[:MAX_XMP_BYTES])
                else:
                    info.texts.append(
                        TextEntry(
                            clean_text(key, 80),
                            clean_text(raw, MAX_TEXT_BYTES),
                            location,
                            raw[:MAX_TEXT_BYTES],
                        )
                    )
        elif kind == b"eXIf":
            info.keep_exif(body)
        elif kind == b"caBX":
            info.has_c2pa = True
        elif kind == b"IEND":
            return
        pos += 12 + length
    info.problems.append("PNG has too many chunks; the rest were not read")


def _dqt(body: bytes, info: ContainerInfo) -> None:
    pos = 0
    while pos < len(body):
        precision, table_id = body[pos] >> 4, body[pos] & 0x0F
        size = 128 if precision else 64
        values = body[pos + 1 : pos + 1 + size]
        if len(values) < size:
            info.problems.append("JPEG quantization table is truncated")
            return
        table = list(struct.unpack(">64H", values)) if precision else list(values)
        info.quant_tables[table_id] = table
        pos += 1 + size


_SOF_NAMES = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive", 0xC3: "lossless"}


def _walk_jpeg(data: bytes, info: ContainerInfo) -> None:
    pos = 2
    for _ in range(MAX_SEGMENTS):
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            info.problems.append("JPEG segment structure is damaged")
            return
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if length < 2 or len(body) < length - 2:
            info.problems.append(f"JPEG segment 0x{marker:02X} is truncated")
            return
        if marker == 0xDA:  # start of scan: entropy-coded data follows, metadata is over
            return
        if marker == 0xDB:
            _dqt(body, info)
        elif marker in _SOF_NAMES:
            info.jpeg_frames.append(_SOF_NAMES[marker])
        elif marker == 0xFE:
            comment = TextEntry(
                "comment", clean_text(body, MAX_TEXT_BYTES), "JPEG COM segment", body[:MAX_TEXT_BYTES]
            )
            info.texts.append(comment)
        elif 0xE0 <= marker <= 0xEF:
            _jpeg_app(marker, body, info)
        pos += 2 + length
    info.problems.append("JPEG has too many segments; the rest were not read")


def _jpeg_app(marker: int, body: bytes, info: ContainerInfo) -> None:
    name = f"APP{marker - 0xE0}"
    if body.startswith(b"Exif\0"):
        info.keep_exif(body)
        name += ":Exif"
    elif body.startswith(b"http://ns.adobe.com/xap/1.0/\0"):
        info.xmp.append(body[29:][:MAX_XMP_BYTES])
        name += ":XMP"
    elif body.startswith(b"http://ns.adobe.com/xmp/extension/\0"):
        name += ":ExtendedXMP"
    elif marker == 0xEB and body[:2] == b"JP":
        info.has_c2pa = True
        name += ":JUMBF"
    elif body.startswith(b"Photoshop 3.0\0"):
        name += ":IPTC"
    elif body.startswith(b"JFIF\0"):
        name += ":JFIF"
    elif body.startswith(b"ICC_PROFILE\0"):
        name += ":ICC"
    if not info.jpeg_markers or info.jpeg_markers[-1] != name:
        info.jpeg_markers.append(name)


def _walk_webp(data: bytes, info: ContainerInfo) -> None:
    pos = 12
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > len(data):
            return
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            info.problems.append(f"WebP chunk {kind!r} is truncated")
            return
        if kind == b"EXIF":
            info.keep_exif(body)
        elif kind == b"XMP ":
            info.xmp.append(body[:MAX_XMP_BYTES])
        elif kind == b"C2PA":
            info.has_c2pa = True
        pos += 8 + length + (length & 1)


def _walk_heif(data: bytes, info: ContainerInfo) -> None:
    """EXIF and XMP of a HEIF/HEIC or AVIF file, as libheif (pillow-heif) reads them."""
    try:
        import pillow_heif
    except ImportError:
        info.problems.append("HEIF metadata not read: pillow-heif is not installed")
        return
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        metadata = dict(heif.info)
    except Exception as exc:  # libheif raises on damaged boxes; recorded, never raised
        info.problems.append(f"HEIF container could not be read ({type(exc).__name__})")
        return
    exif = metadata.get("exif")
    if isinstance(exif, bytes) and exif:
        info.keep_exif(exif)
    xmp = metadata.get("xmp")
    if isinstance(xmp, bytes | str) and xmp:
        info.xmp.append(xmp.encode("utf-8") if isinstance(xmp, str) else xmp)


def read_container(data: bytes) -> ContainerInfo:
    """Walk the container of ``data``; never raises on malformed input (problems are recorded)."""
    info = ContainerInfo()
    try:
        if data.startswith(PNG_SIGNATURE):
            info.format = "PNG"
            _walk_png(data, info)
        elif data.startswith(b"\xff\xd8"):
            info.format = "JPEG"
            _walk_jpeg(data, info)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            info.format = "WEBP"
            _walk_webp(data, info)
        elif sniff_format(data[:16]) in ("HEIF", "AVIF"):
            info.format = sniff_format(data[:16])
            _walk_heif(data, info)
        elif data[:4] in (b"II*\x00", b"MM\x00*"):
            info.exif_block = data  # a TIFF file is its own EXIF structure; not walked further here
    except (struct.error, IndexError, ValueError, zlib.error) as exc:
        info.problems.append(f"container structure could not be read ({type(exc).__name__})")
    return info
