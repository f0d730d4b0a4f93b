"""Two pictures per problem: count the shapes in each and compare (a multi-image family).

Each picture holds shapes of one colour on a grid of cells (one shape per cell, so none touch).
The question cites the pictures with numbered placeholders (``<image1>``, ``<image2>``), sometimes
the second picture first, so readers must put images where and in the order the question cites
them; the wording and the caption speak of the pictures in that order ("shown first").
Difficulty adds shapes. Not in the default family mix: ask for it with ``--families compare_counts``.
"""
from __future__ import annotations

import random

from PIL import Image

from transforms.synth.answers import fmt_number, multiple_choice
from transforms.synth.draw import PALETTE, canvas, shape
from transforms.synth.record import Draft

SUBJECT = "comparison"
SIZE, CELLS = 320, 5
KINDS = ("difference", "total", "which")


def picture(rng: random.Random, n: int, colour: str, form: str) -> Image.Image:
    """``n`` shapes of one colour and form, each in its own cell of a CELLS x CELLS grid."""
    image, draw = canvas(SIZE, SIZE)
    step = SIZE / CELLS
    for cell in sorted(rng.sample(range(CELLS * CELLS), n)):
        row, col = divmod(cell, CELLS)
        shape(draw, form, (col + 0.5) * step, (row + 0.5) * step, step * 0.32, PALETTE[colour])
    return image


def make(rng: random.Random, difficulty: float) -> Draft:
    """One two-picture comparison problem; the picture counts always differ."""
    top = 6 + round(difficulty * 14)
    first, second = rng.sample(range(1, top + 1), 2)
    colour, form = rng.choice(list(PALETTE)), rng.choice(("circle", "square", "triangle"))
    kind = rng.choice(KINDS)
    noun = f"{colour} {form}s"
    cited = (2, 1) if (kind == "difference" and second > first) or (kind == "which" and rng.random() < 0.5) else (1, 2)
    shown = [(first, second)[i - 1] for i in cited]  # the counts in the order the question shows the pictures
    a, b = (f"<image{i}>" for i in cited)
    if kind == "difference":
        question, choices, answer = f"How many more {noun} are in {a} than in {b}?", [], fmt_number(abs(first - second))
    elif kind == "total":
        question, choices, answer = f"How many {noun} are there in {a} and {b} together?", [], fmt_number(first + second)
    else:
        question = f"Which picture has more {noun}: {a} or {b}?"
        choices, answer = multiple_choice(rng, "the picture shown first" if shown[0] > shown[1] else "the picture shown second",
                                          ["the picture shown first", "the picture shown second", "both have the same number",
                                           "neither has any"])
    caption = (f"Two pictures, in the order shown: the first has {shown[0]} {noun} on a white background, "
               f"the second has {shown[1]} {noun}.")
    images = [picture(rng, first, colour, form), picture(rng, second, colour, form)]
    return Draft(question, images[0], caption, choices, answer,
                 {"counts": [first, second], "cited": list(cited), "colour": colour, "shape": form, "kind": kind}, extra_images=images[1:])
