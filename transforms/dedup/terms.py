"""The terms a question turns on (what it asks for, which way it compares, colours, shapes), by synonym class.

Two questions over one picture with the same answer and the same numbers can still ask
different things: "What is the area of the figure?" and "What is the perimeter of the
figure?" (a 6-8-10 triangle has both 24), "How many red circles?" and "How many blue circles?".
Their texts overlap as much as a reworded copy's does, so near-duplicates must also name the
same classes of these terms; a rewording within a class ("tallest" → "highest", "in total" →
"altogether") keeps them equal. Written by hand: a fixed vocabulary, not a thesaurus — a
question whose difference lies in a word outside it is not told apart by this guard.
"""
from __future__ import annotations

import re

from transforms.dedup.text import normalize_text

CLASSES: dict[str, tuple[str, ...]] = {
    "area": ("area", "surface"),
    "perimeter": ("perimeter", "circumference"),
    "volume": ("volume", "capacity"),
    "sum": ("sum", "total", "altogether", "combined"),
    "difference": ("difference", "subtract", "minus"),
    "product": ("product", "multiply", "multiplied"),
    "quotient": ("quotient", "divide", "divided", "ratio"),
    "most": ("most", "largest", "greatest", "biggest", "highest", "tallest", "longest", "heaviest", "maximum"),
    "least": ("least", "fewest", "smallest", "lowest", "shortest", "lightest", "minimum"),
    "more": ("more", "greater", "larger", "bigger", "higher", "taller", "longer", "heavier", "warmer", "above"),
    "less": ("less", "fewer", "smaller", "lower", "shorter", "lighter", "colder", "below"),
    "left": ("left", "west"), "right": ("right", "east"), "top": ("top", "north"), "bottom": ("bottom", "south"),
    "horizontal": ("horizontal", "x"), "vertical": ("vertical", "y"),
    "not": ("not", "never"), "even": ("even",), "odd": ("odd",), "prime": ("prime",),
    "red": ("red",), "blue": ("blue",), "green": ("green",), "yellow": ("yellow",), "orange": ("orange",),
    "purple": ("purple", "violet"), "black": ("black",), "white": ("white",), "grey": ("grey", "gray"),
    "pink": ("pink",), "brown": ("brown",),
    "circle": ("circle", "circles"), "square": ("square", "squares"), "triangle": ("triangle", "triangles"),
    "rectangle": ("rectangle", "rectangles", "oblong", "oblongs"), "hexagon": ("hexagon", "hexagons"),
    "pentagon": ("pentagon", "pentagons"), "star": ("star", "stars"),
}
_CLASS_OF = {word: name for name, words in CLASSES.items() for word in words}
_WORD = re.compile(r"[a-z]+")


def terms(text: str) -> tuple[str, ...]:
    """The sorted set of term classes ``text`` names."""
    return tuple(sorted({_CLASS_OF[w] for w in _WORD.findall(normalize_text(text)) if w in _CLASS_OF}))
