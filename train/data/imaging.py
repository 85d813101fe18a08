"""Pixel helpers shared by the photo pool, the crops and ``process``: open any input as 8-bit RGB
with no metadata, resize with Lanczos, encode JPEG/PNG with fixed settings, write atomically."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fakescope_cli.errors import DatasetError

# Only these decoders ever see input (never EPS and the like).
_DECODERS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "AVIF", "HEIF")
MAX_PIXELS = 100_000_000
JPEG_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def open_rgb(path: Path) -> Image.Image:
    """The image at ``path`` as 8-bit RGB, EXIF orientation applied, nothing else kept.

    16-bit and float greyscale are scaled to 8 bits; transparency is composited on black (the
    same rule for every input); palette, CMYK and greyscale become RGB. The result is a fresh
    image built from the pixels, so no EXIF, ICC profile, XMP or text chunk survives.
    """
    Image.init()
    decoders = [name for name in _DECODERS if name in Image.OPEN]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=decoders) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise DatasetError(f"{path}: image too large ({image.width}x{image.height})")
                image.load()
                upright = ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    return Image.fromarray(_rgb_array(upright))


def _rgb_array(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        alpha = rgba[:, :, 3:4] / 255.0
        return np.round(rgba[:, :, :3] * alpha).astype(np.uint8)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """Lanczos resize (with Pillow's reducing gap: box-filter pre-reduction, then Lanczos)."""
    if (width, height) == image.size:
        return image.copy()
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longer side is at most ``max_side`` (never upscales)."""
    scale = max_side / max(image.size)
    if scale >= 1.0:
        return image.copy()
    return resize(image, max(1, round(image.width * scale)), max(1, round(image.height * scale)))


def encode_jpeg(image: Image.Image, quality: int, subsampling: str) -> bytes:
    """Baseline JPEG bytes at ``quality`` with the given chroma subsampling, no metadata."""
    buffer = io.BytesIO()
    image.save(
        buffer, format="JPEG", quality=quality, subsampling=JPEG_SUBSAMPLING[subsampling], optimize=True
    )
    return buffer.getvalue()


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
