"""File identity: SHA-256 of the bytes, and a perceptual hash (imagehash pHash) of the pixels."""

from __future__ import annotations

from PIL import Image

from fakescope_cli.evidence.items import EvidenceItem


def sha256_item(digest: str) -> EvidenceItem:
    return EvidenceItem(
        "hash.sha256",
        "hash",
        f"SHA-256 {digest}",
        digest,
        location="file bytes",
        limits="Identifies these exact bytes; any re-save changes it.",
    )


def phash_item(rgb: Image.Image) -> EvidenceItem:
    import imagehash

    value = str(imagehash.phash(rgb))
    return EvidenceItem(
        "hash.phash",
        "hash",
        f"perceptual hash (pHash, 64 bits) {value}",
        value,
        location="decoded pixels",
        limits="Near-duplicates (re-saved, resized) differ by a few bits; compare by Hamming distance.",
    )
