"""Test files made on the spot with real tools: Pillow for images, chunks and EXIF, hand-built XMP
packets and raw segments, c2pa-python for signed manifests (with a certificate chain made here)."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def photo(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    """A textured RGB image (smooth shapes plus sensor-like noise)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    noisy = np.asarray(coarse, dtype=np.float32) + rng.normal(0, 6, (size[1], size[0], 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def png_bytes(
    image: Image.Image | None = None,
    texts: dict[str, str] | None = None,
    ztexts: dict[str, str] | None = None,
    itexts: dict[str, str] | None = None,
) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (texts or {}).items():
        info.add_text(key, value)
    for key, value in (ztexts or {}).items():
        info.add_text(key, value, zip=True)
    for key, value in (itexts or {}).items():
        info.add_itxt(key, value, zip=True)
    buffer = io.BytesIO()
    (image or photo()).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_bytes(
    image: Image.Image | None = None,
    quality: int = 90,
    exif: Image.Exif | None = None,
    comment: bytes | None = None,
    **options: object,
) -> bytes:
    buffer = io.BytesIO()
    extra: dict[str, object] = dict(options)
    if exif is not None:
        extra["exif"] = exif.tobytes()
    if comment is not None:
        extra["comment"] = comment
    (image or photo()).save(buffer, format="JPEG", quality=quality, **extra)
    return buffer.getvalue()


def camera_exif(
    make: str = "Canon",
    model: str = "Canon EOS R5",
    software: str | None = None,
    maker_note: bool = True,
    user_comment: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    if software:
        exif[0x0131] = software
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:06:01 10:11:12"
    if maker_note:
        sub[0x927C] = b"\x00\x01" * 64
    if user_comment is not None:
        sub[0x9286] = b"ASCII\0\0\0" + user_comment.encode()
    return exif


def jpeg_with_thumbnail(image: Image.Image, thumb_size: tuple[int, int]) -> bytes:
    """A JPEG whose EXIF IFD1 holds a thumbnail of the given size (EXIF built by hand)."""
    thumb = io.BytesIO()
    Image.new("RGB", thumb_size, (90, 90, 90)).save(thumb, format="JPEG", quality=70)
    blob = thumb.getvalue()
    # TIFF header, IFD0 with Make, IFD1 with JPEGInterchangeFormat / Length.
    make = b"Canon\0"
    ifd0_offset = 8
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, len(make), 0) + struct.pack("<I", 0)
    make_offset = ifd0_offset + len(ifd0)
    ifd1_offset = make_offset + len(make)
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, len(make), make_offset)
    ifd0 += struct.pack("<I", ifd1_offset)
    blob_offset = ifd1_offset + 2 + 2 * 12 + 4
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, blob_offset)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(blob)) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", ifd0_offset) + ifd0 + make + ifd1 + blob
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=b"Exif\x00\x00" + tiff)
    return buffer.getvalue()


def insert_jpeg_segment(jpeg: bytes, marker: int, body: bytes) -> bytes:
    """``jpeg`` with one more segment right after SOI."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def xmp_packet(body: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'{body}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def xmp_description(
    source_type: str | None = None, creator_tool: str | None = None, agents: tuple[str, ...] = ()
) -> str:
    attributes = ""
    if source_type:
        attributes += f' Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}"'
    if creator_tool:
        attributes += f' xmp:CreatorTool="{creator_tool}"'
    history = ""
    if agents:
        events = "".join(f'<rdf:li stEvt:action="saved" stEvt:softwareAgent="{a}"/>' for a in agents)
        history = f"<xmpMM:History><rdf:Seq>{events}</rdf:Seq></xmpMM:History>"
    return (
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
        f'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"{attributes}>{history}</rdf:Description>'
    )


def jpeg_with_xmp(packet: bytes, image: Image.Image | None = None) -> bytes:
    return insert_jpeg_segment(jpeg_bytes(image), 0xE1, b"http://ns.adobe.com/xap/1.0/\0" + packet)


def png_bomb(width: int = 20_000, height: int = 20_000, texts: dict[str, str] | None = None) -> bytes:
    """A PNG whose header announces far more pixels than any limit allows (tiny IDAT)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    for key, value in (texts or {}).items():
        out += chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    return out + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def upsampled_like_a_generator(image: Image.Image, seed: int = 0) -> Image.Image:
    """x2 upsampling by a stride-2 transposed convolution with an uneven 3x3 kernel (checkerboard)."""
    from scipy.signal import convolve2d

    kernel = np.random.default_rng(seed).uniform(0.2, 1.0, (3, 3))
    kernel = kernel / kernel.sum() * 4
    channels = []
    for channel in np.asarray(image, dtype=np.float32).transpose(2, 0, 1):
        zeros = np.zeros((channel.shape[0] * 2, channel.shape[1] * 2), np.float32)
        zeros[::2, ::2] = channel
        channels.append(convolve2d(zeros, kernel, mode="same"))
    return Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))


class TestSigner:
    """A throw-away C2PA certificate chain (root CA + ES256 signer) made in the test session."""

    __test__ = False

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        def name(common: str) -> x509.Name:
            return x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, common),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FakeScope test suite"),
                ]
            )

        now = datetime.datetime.now(datetime.UTC)
        root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root = (
            x509.CertificateBuilder()
            .subject_name(name("Test Root"))
            .issuer_name(name("Test Root"))
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        leaf = (
            x509.CertificateBuilder()
            .subject_name(name("Test Signer"))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.root_pem = root.public_bytes(pem).decode()
        self.chain_pem = leaf.public_bytes(pem).decode() + self.root_pem
        self.key_pem = key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def sign(
        self, asset: bytes, mime: str, actions: list[dict[str, object]], generator: str = "TestGen"
    ) -> bytes:
        import c2pa

        manifest = {
            "claim_generator_info": [{"name": generator, "version": "1.0"}],
            "title": "test asset",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
        }
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, self.chain_pem.encode(), self.key_pem.encode(), None
        )
        out = io.BytesIO()
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
            builder.sign(signer, mime, io.BytesIO(asset), out)
        return out.getvalue()
