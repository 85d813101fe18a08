"""Small greyscale PNG maps for reports (ELA, spectrum)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_FIGURE_SIDE = 512


def png_map(values: np.ndarray) -> bytes:
    """``values`` in 0..1 as an 8-bit greyscale PNG, at most MAX_FIGURE_SIDE pixels a side."""
    image = Image.fromarray(np.clip(values * 255.0, 0, 255).astype(np.uint8), mode="L")
    image.thumbnail((MAX_FIGURE_SIDE, MAX_FIGURE_SIDE), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
