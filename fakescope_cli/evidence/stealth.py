"""Generation parameters hidden in pixel least-significant bits by the "stealth pnginfo" extension
of AUTOMATIC1111-style front ends (it survives sites that strip PNG text chunks).

Layout, as that extension writes it: bits are taken column by column (x outer, y inner), from the
alpha channel (one bit a pixel) or from R, G, B (three); first the 15-byte signature
``stealth_pnginfo`` / ``stealth_pngcomp`` (alpha) or ``stealth_rgbinfo`` / ``stealth_rgbcomp``
(RGB), then the payload's length in bits (32 bits, most significant first), then the payload,
gzip-compressed for the ``comp`` signatures."""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
MAX_PAYLOAD_BITS = 8 << 23  # 8 MiB
MAX_TEXT = 1 << 20


def _bits(pixels: np.ndarray, mode: str) -> np.ndarray:
    """The LSB stream in the extension's order: column-major, channel by channel for RGB."""
    if mode == "alpha":
        return (pixels[:, :, 3].T & 1).ravel()
    return (pixels[:, :, :3].transpose(1, 0, 2) & 1).ravel()


def _bytes(bits: np.ndarray) -> bytes:
    return np.packbits(bits[: len(bits) // 8 * 8]).tobytes()


def read_stealth_text(image: Image.Image) -> tuple[str, str] | None:
    """(mode, text) hidden in an RGB or RGBA image's low bits, or None. Only the first columns
    are read unless they hold a signature."""
    if image.mode not in ("RGB", "RGBA"):
        return None
    width, height = image.size
    for mode in ("alpha", "rgb") if image.mode == "RGBA" else ("rgb",):
        per_pixel = 1 if mode == "alpha" else 3
        columns = min(width, -(-152 // (height * per_pixel)))  # signature + length: 152 bits
        head = _bits(np.asarray(image.crop((0, 0, columns, height))), mode)
        found = SIGNATURES.get(_bytes(head[:120])) if len(head) >= 152 else None
        if found is None or found[0] != mode:
            continue
        length = int.from_bytes(_bytes(head[120:152]), "big")
        stream = _bits(np.asarray(image), mode)
        if length <= 0 or length > min(MAX_PAYLOAD_BITS, len(stream) - 152):
            continue
        payload = _bytes(stream[152 : 152 + length])
        if found[1]:
            try:
                payload = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload, MAX_TEXT)
            except zlib.error:
                continue
        return mode, payload[:MAX_TEXT].decode("utf-8", errors="replace")
    return None
