"""Image placeholders in a question made canonical: one ``<image>`` per image, in image order.

Sources write placeholders their own way (``<image>``, ``<image 1>``, ``<image1>``, ``<image_1>``,
``<Image 2>``). Numbered ones (1-based, or 0-based when they start at 0) say which image sits where,
so images are reordered to the order the question cites them; unnumbered ones take the images in
order; a question with images and no placeholder gets its markers prepended. Anything else (more
markers than images or fewer, a number cited twice or out of range, numbered and unnumbered
mixed) is a :class:`MarkerError`: the row cannot be shown to a model as its author meant.
"""
from __future__ import annotations

import re

from schemas.problem import IMAGE_MARKER

SOURCE_PLACEHOLDER = re.compile(r"<\s*image[\s_-]*(\d*)\s*>", re.IGNORECASE)


class MarkerError(ValueError):
    """The question's placeholders do not match its images."""


def _numbered_order(numbers: list[int], count: int) -> list[int]:
    for first in (1, 0):
        if sorted(numbers) == list(range(first, first + count)):
            return [n - first for n in numbers]
    raise MarkerError(f"placeholders cite images {numbers} but the row has {count} image(s)")


def canonical_markers(question: str, count: int) -> tuple[str, list[int]]:
    """``question`` with canonical markers, and the image order (indices into the row's images)."""
    found = [m.group(1) for m in SOURCE_PLACEHOLDER.finditer(question)]
    if not found:
        return IMAGE_MARKER * count + question, list(range(count))
    if all(found):
        order = _numbered_order([int(n) for n in found], count)
    elif any(found):
        raise MarkerError("the question mixes numbered and unnumbered image placeholders")
    elif len(found) != count:
        raise MarkerError(f"{len(found)} image placeholder(s) but {count} image(s)")
    else:
        order = list(range(count))
    return SOURCE_PLACEHOLDER.sub(IMAGE_MARKER, question), order
