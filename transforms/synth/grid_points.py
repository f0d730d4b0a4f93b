"""Reading labelled points on a coordinate grid: coordinates and distances along an axis.

Difficulty extends the grid from the first quadrant to all four, adds points and unlocks
distance questions.
"""
from __future__ import annotations

import random

from PIL import Image

from transforms.synth.answers import multiple_choice, numeric_answer
from transforms.synth.draw import BLACK, GREY, PALETTE, canvas, label, shape
from transforms.synth.record import Draft

SUBJECT = "coordinates"
SIZE, MARGIN = 448, 36
KINDS = ("coordinates", "x", "y", "horizontal", "vertical")
Point = tuple[int, int]


def make(rng: random.Random, difficulty: float) -> Draft:
    """One coordinate-reading problem."""
    low, high = (-6, 6) if rng.random() < difficulty else (0, 10)
    cells = [(x, y) for x in range(low, high + 1) for y in range(low, high + 1)]
    points = dict(zip("ABCDE", rng.sample(cells, 2 + round(difficulty * 3))))
    question, choices, answer = _ask(rng, difficulty, points, low, high)
    listing = ", ".join(f"{name} at {_fmt(p)}" for name, p in points.items())
    caption = (f"A square coordinate grid with x and y axes from {low} to {high}, every integer marked. "
               f"Labelled points: {listing}.")
    params = {"range": [low, high], "points": {k: list(v) for k, v in points.items()}}
    return Draft(question, _render(points, low, high), caption, choices, answer, params)


def _fmt(p: Point) -> str:
    return f"({p[0]}, {p[1]})"


def _ask(
    rng: random.Random, difficulty: float, points: dict[str, Point], low: int, high: int
) -> tuple[str, list[str], str]:
    kind = rng.choice(KINDS[: 3 + round(difficulty * 2)])
    names = rng.sample(list(points), 2)
    (a, (ax, ay)), (b, (bx, by)) = ((n, points[n]) for n in names)
    if kind == "coordinates":
        near = [(ax + dx, ay + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        rng.shuffle(near)
        slips = [(ay, ax), (-ax, ay), (ax, -ay), *near]
        on_grid = [p for p in slips if low <= min(p) and max(p) <= high]
        return f"What are the coordinates of point {a}?", *multiple_choice(rng, _fmt((ax, ay)), map(_fmt, on_grid))
    if kind in ("x", "y"):
        value, other = (ax, ay) if kind == "x" else (ay, ax)
        question = f"What is the {kind}-coordinate of point {a}?"
        return question, *numeric_answer(rng, value, [other, -value], minimum=low, maximum=high)
    along, across = ((ax, bx), (ay, by)) if kind == "horizontal" else ((ay, by), (ax, bx))
    gap, other, signed_sum = abs(along[0] - along[1]), abs(across[0] - across[1]), sum(along)
    question = f"What is the {kind} distance between points {a} and {b}?"
    return question, *numeric_answer(rng, gap, [other, signed_sum], minimum=0)


def _render(points: dict[str, Point], low: int, high: int) -> Image.Image:
    image, draw = canvas(SIZE, SIZE)
    unit = (SIZE - 2 * MARGIN) / (high - low)

    def px(x: float, y: float) -> tuple[float, float]:
        return MARGIN + (x - low) * unit, SIZE - MARGIN - (y - low) * unit

    for v in range(low, high + 1):
        for line in ([px(v, low), px(v, high)], [px(low, v), px(high, v)]):
            draw.line(line, fill=BLACK if v == 0 else GREY, width=2 if v == 0 else 1)
        x, y = px(v, low)
        label(draw, (x, y + 5), str(v), 13, anchor="mt")
        x, y = px(low, v)
        label(draw, (x - 6, y), str(v), 13, anchor="rm")
    x, y = px(high, 0)
    label(draw, (x + 8, y), "x", 16, anchor="lm")
    x, y = px(0, high)
    label(draw, (x, y - 6), "y", 16, anchor="mb")
    for name, (x, y) in points.items():
        cx, cy = px(x, y)
        shape(draw, "circle", cx, cy, 6, PALETTE["red"])
        label(draw, (cx + 7, cy - 5), name, 18, anchor="lb")
    return image
