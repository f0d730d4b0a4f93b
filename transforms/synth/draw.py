"""Drawing helpers shared by the families: canvas, fonts, palette and filled shapes."""
from __future__ import annotations

import math
from functools import cache, lru_cache

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GREY: RGB = (200, 200, 200)

# Named fill colours, far apart in RGB so both readers and pixel checks can tell them apart.
PALETTE: dict[str, RGB] = {
    "red": (215, 38, 38),
    "blue": (35, 85, 215),
    "green": (30, 150, 50),
    "orange": (245, 145, 0),
    "purple": (130, 50, 170),
    "brown": (120, 70, 30),
}
SHAPES = ("circle", "square", "triangle")


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at ``size`` px."""
    return ImageFont.load_default(size=size)


def canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white RGB image and a drawing context on it."""
    image = Image.new("RGB", (width, height), WHITE)
    return image, ImageDraw.Draw(image)


@lru_cache(maxsize=4096)
def _stamp(text: str, size: int, anchor: str) -> tuple[Image.Image, int, int]:
    """Rendered text as an anti-aliased mask and its offset from the anchor point (rendering is the hot path)."""
    left, top, right, bottom = font(size).getbbox(text, anchor=anchor)
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=font(size), anchor=anchor, fill=255)
    return mask, left, top


def label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 16,
          anchor: str = "mm", fill: RGB = BLACK) -> None:
    """Text placed at ``xy`` by Pillow ``anchor`` (default: centred)."""
    mask, left, top = _stamp(text, size, anchor)
    draw.bitmap((round(xy[0]) + left, round(xy[1]) + top), mask, fill=fill)


def shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, fill: RGB) -> None:
    """A filled circle, square or upward triangle inscribed in the circle of radius ``r`` at (cx, cy)."""
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == "square":
        half = r / math.sqrt(2)
        draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=fill)
    elif kind == "triangle":
        points = [(cx + r * math.sin(a), cy - r * math.cos(a)) for a in (0, 2 * math.pi / 3, 4 * math.pi / 3)]
        draw.polygon(points, fill=fill)
    else:
        raise ValueError(f"unknown shape {kind!r}")
