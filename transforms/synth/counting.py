"""Counting coloured shapes: totals, by colour, by shape, by both, and the commonest colour.

Difficulty adds objects, colours and shapes, shrinks and varies their size, and unlocks
shape and colour-and-shape questions. Objects never touch, so every one is countable.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict, dataclass

from transforms.synth.answers import multiple_choice, numeric_answer
from transforms.synth.draw import PALETTE, SHAPES, canvas, shape
from transforms.synth.record import Draft

SUBJECT = "counting"
SIZE, MARGIN, GAP = 448, 12, 6
KINDS = ("total", "colour", "most", "shape", "both")


@dataclass
class Item:
    """One drawn object: centre, bounding radius (px), colour name and shape name."""

    x: float
    y: float
    r: float
    colour: str = ""
    shape: str = ""


def make(rng: random.Random, difficulty: float) -> Draft:
    """One counting problem."""
    colours = rng.sample(list(PALETTE), 2 + round(difficulty * 3))
    shapes = rng.sample(SHAPES, 1 + round(difficulty * 2))
    n = rng.randint(3 + round(difficulty * 9), 6 + round(difficulty * 14))
    items = _place(rng, n, 32 - 12 * difficulty, 0.35 * difficulty)
    for item in items:
        item.colour, item.shape = rng.choice(colours), rng.choice(shapes)
    question, choices, answer = _ask(rng, difficulty, items)
    listing = ", ".join(f"{i.colour} {i.shape}" for i in items)
    caption = f"{len(items)} separate filled shapes on a white background; from top to bottom: {listing}."
    image, draw = canvas(SIZE, SIZE)
    for i in items:
        shape(draw, i.shape, i.x, i.y, i.r, PALETTE[i.colour])
    return Draft(question, image, caption, choices, answer, {"objects": [asdict(i) for i in items]})


def _place(rng: random.Random, n: int, radius: float, jitter: float) -> list[Item]:
    """Up to ``n`` non-touching discs, sorted top to bottom."""
    placed: list[Item] = []
    for _ in range(n * 50):
        if len(placed) == n:
            break
        r = round(radius * rng.uniform(1 - jitter, 1), 1)
        x, y = (round(rng.uniform(MARGIN + r, SIZE - MARGIN - r), 1) for _ in range(2))
        if all(math.dist((x, y), (p.x, p.y)) > r + p.r + GAP for p in placed):
            placed.append(Item(x, y, r))
    return sorted(placed, key=lambda p: (p.y, p.x))


def _ask(rng: random.Random, difficulty: float, items: list[Item]) -> tuple[str, list[str], str]:
    by_colour = Counter(i.colour for i in items)
    ranked = by_colour.most_common()
    kind = rng.choice(KINDS[: 3 + round(difficulty * 2)])
    if kind == "most" and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        absent = [c for c in PALETTE if c not in by_colour]
        rarer = [c for c, _ in ranked[1:]] + rng.sample(absent, len(absent))
        choices, answer = multiple_choice(rng, ranked[0][0], rarer)
        return "Which colour do the most shapes have?", choices, answer
    pick = rng.choice(items)
    colour = pick.colour if kind in ("colour", "most", "both") else None  # "most" lands here on a tie
    form = pick.shape if kind in ("shape", "both") else None
    noun = f"{colour + ' ' if colour else ''}{form or 'shape'}s"
    question = f"How many {noun} are there?" if colour or form else "How many shapes are there in total?"
    count = sum(colour in (None, i.colour) and form in (None, i.shape) for i in items)
    slips = [len(items), *by_colour.values(), sum(i.shape == pick.shape for i in items)]
    return (question, *numeric_answer(rng, count, slips, minimum=1))
