"""Where the model looked, as pictures: p(fake) per native crop drawn over the image.

Two figures: ``heatmap`` (``--map``: the dense grid, cells filled with their colour) and ``crops``
(the crops a scan judged, outlined in their colour with their p(fake) written inside). Both carry
their colour scale. Colours run from blue (p(fake) 0, looks real) through white (0.5) to red (1,
looks generated): a diverging scale that stays readable for the common colour-vision deficiencies.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from fakescope_cli.results import CropScore

SIDE = 512
SCALE_H = 30
_LOW = (33, 102, 172)  # blue
_MID = (247, 247, 247)
_HIGH = (178, 24, 43)  # red


def colour(p: float) -> tuple[int, int, int]:
    """The scale's colour for p(fake) ``p``."""
    p = min(max(p, 0.0), 1.0)
    a, b, t = (_LOW, _MID, p / 0.5) if p < 0.5 else (_MID, _HIGH, (p - 0.5) / 0.5)
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _base(rgb: Image.Image) -> tuple[Image.Image, float]:
    small = rgb.convert("RGB")
    small.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    return small, small.width / rgb.width


def _with_scale(picture: Image.Image) -> bytes:
    """The picture above its colour scale (0 real, 0.5, 1 fake), as PNG bytes."""
    width = max(picture.width, 220)
    out = Image.new("RGB", (width, picture.height + SCALE_H), (255, 255, 255))
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default()
    bar_w, top = width - 20, picture.height + 4
    for i in range(bar_w):
        draw.line([(10 + i, top), (10 + i, top + 9)], fill=colour(i / max(bar_w - 1, 1)))
    for value, anchor in ((0.0, "la"), (0.5, "ma"), (1.0, "ra")):
        draw.text((10 + value * bar_w, top + 12), f"{value:g}", fill=(27, 31, 35), font=font, anchor=anchor)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def heatmap_png(rgb: Image.Image, cells: list[CropScore], alpha: float = 0.5) -> bytes:
    """The image with every heat-map cell filled with its p(fake) colour."""
    small, scale = _base(rgb)
    layer = Image.new("RGBA", small.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for cell in cells:
        box = [cell.x * scale, cell.y * scale, (cell.x + cell.w) * scale - 1, (cell.y + cell.h) * scale - 1]
        draw.rectangle(box, fill=(*colour(cell.p_fake), round(255 * alpha)))
    return _with_scale(Image.alpha_composite(small.convert("RGBA"), layer).convert("RGB"))


def crops_png(rgb: Image.Image, crops: list[CropScore]) -> bytes:
    """The image with each judged crop outlined in its p(fake) colour, its value written inside."""
    small, scale = _base(rgb)
    draw = ImageDraw.Draw(small)
    font = ImageFont.load_default()
    for crop in crops:
        box = [crop.x * scale, crop.y * scale, (crop.x + crop.w) * scale - 1, (crop.y + crop.h) * scale - 1]
        draw.rectangle(box, outline=colour(crop.p_fake), width=3)
        label = f"{crop.p_fake:.2f}"
        left, top, right, bottom = draw.textbbox((box[0] + 4, box[1] + 3), label, font=font)
        draw.rectangle([left - 2, top - 1, right + 2, bottom + 1], fill=(255, 255, 255))
        draw.text((box[0] + 4, box[1] + 3), label, fill=(27, 31, 35), font=font)
    return _with_scale(small)
