"""Read an input file as an image, safely: recognised by content, size-capped, fully decoded."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from fakescope_cli.errors import ImageInputError

DEFAULT_MAX_PIXELS = 100_000_000  # 100 megapixels
MAX_FILE_BYTES = 512 << 20

# Leading bytes of the formats Pillow decodes here.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
]
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".heic",
    ".heif",
    ".avif",
}


# Only these decoders ever see input: Pillow has plugins (EPS via Ghostscript, for one) that
# must never run on untrusted files, whatever their name or content claims.
_DECODERS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "AVIF", "HEIF")


@cache
def _register_heif() -> None:
    """HEIF/HEIC (every iPhone photo) through pillow-heif's libheif, where it is installed."""
    try:
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()


def _allowed_decoders() -> list[str]:
    """The allowed decoders this Pillow build has (JPEG also opens camera MPO files)."""
    Image.init()
    _register_heif()
    return [name for name in _DECODERS if name in Image.OPEN]


# ISO base media "ftyp" brands of HEIF still images (iPhone photos are "heic") and of AVIF.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
AVIF_BRANDS = (b"avif", b"avis")


def sniff_format(head: bytes) -> str | None:
    """The image format the first bytes announce, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        if head[8:12] in AVIF_BRANDS:
            return "AVIF"
        if head[8:12] in HEIF_BRANDS:
            return "HEIF"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


@dataclass(frozen=True, eq=False)  # compared by identity: the pixels may be an image or bytes
class LoadedImage:
    """Decoded RGB pixels plus what identifies the file they came from.

    ``pixels`` is either the packed bytes or the decoded RGB image itself; the bytes of a
    12-megapixel image take 60 ms to pack, which a view that reads a few crops never needs."""

    path: Path
    pixels: bytes | Image.Image
    width: int
    height: int
    format: str
    sha256: str

    @cached_property
    def rgb(self) -> bytes:
        """The pixels packed row by row, 3 bytes each."""
        return self.pixels if isinstance(self.pixels, bytes) else self.pixels.tobytes()

    def region(self, x: int, y: int, width: int, height: int) -> bytes:
        """The packed pixels of one rectangle inside the image (ValueError if it reaches outside)."""
        if min(x, y) < 0 or min(width, height) < 1:
            raise ValueError(f"region {x},{y} {width}x{height} is not a rectangle inside the image")
        if x + width > self.width or y + height > self.height:
            raise ValueError(f"region {x},{y} {width}x{height} reaches outside {self.width}x{self.height}")
        if isinstance(self.pixels, Image.Image):
            return self.pixels.crop((x, y, x + width, y + height)).tobytes()
        rows = memoryview(self.pixels)
        stride = self.width * 3
        return b"".join(
            rows[row * stride + x * 3 : row * stride + (x + width) * 3] for row in range(y, y + height)
        )

    @property
    def pixel_id(self) -> str:
        """Identity of the decoded pixels (used to reuse an image's evaluation)."""
        digest = hashlib.sha256(f"{self.width}x{self.height}:".encode())
        digest.update(self.rgb)
        return digest.hexdigest()


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


@contextmanager
def _native_stderr_silenced(active: bool) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while a C library that writes there runs."""
    if not active:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image (EXIF orientation applied, alpha over white) and facts about its file."""

    rgb: Image.Image
    format: str
    stored_size: tuple[int, int]  # as stored, before EXIF rotation
    sha256: str


def read_image_file(path: Path) -> bytes:
    """The file's bytes, or ImageInputError naming the file (empty, too large, unreadable ...)."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise ImageInputError(f"{path}: empty file (0 bytes)")
        if size > MAX_FILE_BYTES:
            raise ImageInputError(f"{path}: file too large ({size} bytes)")
        return path.read_bytes()
    except IsADirectoryError:
        raise ImageInputError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise ImageInputError(f"{path}: permission denied") from None
    except FileNotFoundError:
        raise ImageInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageInputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def decode_image(path: Path, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode ``data`` (read from ``path``) with the allowed decoders only."""
    digest = hashlib.sha256(data).hexdigest()
    # libtiff prints its warnings straight to file descriptor 2; they would be stray lines per file.
    with _native_stderr_silenced(sniff_format(data[:16]) == "TIFF"):
        return _decode(path, data, max_pixels, digest)


def _decode(path: Path, data: bytes, max_pixels: int, digest: str) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            # Decoder warnings (bomb size, damaged TIFF tags ...) would add stray lines per file;
            # the outcome is reported through the result instead.
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data), formats=_allowed_decoders())
            width, height = image.size
            if width * height > max_pixels:
                raise ImageInputError(
                    f"{path}: {width}x{height} pixels is over the {max_pixels:,}-pixel limit "
                    "(possible decompression bomb)"
                )
            fmt = image.format or "unknown"
            image.load()
            # In place, and no conversion of what is already RGB: each copy of a 12-megapixel
            # image costs about 30 ms, a fifth of what decoding it does.
            ImageOps.exif_transpose(image, in_place=True)
            rgb = image if image.mode == "RGB" else _to_rgb(image)
    except ImageInputError:
        raise
    except Image.DecompressionBombError:
        raise ImageInputError(
            f"{path}: image dimensions are too large (possible decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        announced = sniff_format(data[:16])
        if announced:
            raise ImageInputError(
                f"{path}: damaged or truncated {announced} file (cannot be decoded)"
            ) from None
        raise ImageInputError(f"{path}: not an image, or a format this build cannot read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"{path}: damaged or truncated image ({exc})") from None
    except Exception as exc:  # decoders raise IndexError, struct.error ... on hostile files
        kind = (
            type(exc).__name__
            if type(exc).__module__ == "builtins"
            else f"{type(exc).__module__}.{type(exc).__name__}"
        )
        raise ImageInputError(f"{path}: damaged image ({kind} in the decoder)") from None
    if rgb.width < 1 or rgb.height < 1:
        raise ImageInputError(f"{path}: image has no pixels")
    return DecodedImage(rgb, fmt, (width, height), digest)


def as_loaded(path: Path, decoded: DecodedImage) -> LoadedImage:
    rgb = decoded.rgb
    return LoadedImage(path, rgb, rgb.width, rgb.height, decoded.format, decoded.sha256)


def load_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` into RGB (EXIF orientation applied, alpha over white)."""
    return as_loaded(path, decode_image(path, read_image_file(path), max_pixels))
