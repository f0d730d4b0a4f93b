"""Small builders shared by the tests."""
from __future__ import annotations

import io

from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30), mode: str = "RGB") -> bytes:
    """A PNG of one colour with a dark square, so its hashes depend on the content."""
    img = Image.new(mode, size, color if mode == "RGB" else 128)
    for x in range(size[0] // 4, size[0] // 2):
        for y in range(size[1] // 4, size[1] // 2):
            img.putpixel((x, y), (0, 0, 0) if mode == "RGB" else 0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
