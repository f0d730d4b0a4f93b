"""Bar charts: pick the tallest/shortest bar, read a value, combine two values.

Difficulty adds bars, packs values closer (odd values allowed), hides the value labels
(so values must be read off the gridlines) and unlocks two-bar arithmetic questions.
"""
from __future__ import annotations

import random

from PIL import Image

from transforms.synth.answers import multiple_choice, numeric_answer
from transforms.synth.draw import BLACK, GREY, PALETTE, canvas, label
from transforms.synth.record import Draft

SUBJECT = "chart"
CATEGORIES = ("apples", "pears", "plums", "kiwis", "limes", "figs", "dates", "grapes", "lemons", "mangos")
AXIS_MAX = 12
KINDS = ("tallest", "shortest", "value", "difference", "sum")
WIDTH, HEIGHT = 512, 384
LEFT, RIGHT, TOP, BOTTOM = 50, 20, 60, 45


def make(rng: random.Random, difficulty: float) -> Draft:
    """One bar-chart problem."""
    pool = range(1, AXIS_MAX + 1) if difficulty >= 0.4 else range(2, AXIS_MAX + 1, 2)
    n = min(len(pool), 4 + round(difficulty * 4 + rng.random()))
    names = rng.sample(CATEGORIES, n)
    values = rng.sample(pool, n)
    bars = dict(zip(names, values))
    labelled = rng.random() >= difficulty
    question, choices, answer = _ask(rng, difficulty, bars)
    listing = ", ".join(f"{k}={v}" for k, v in bars.items())
    caption = (f"A vertical bar chart titled 'Fruit sold' with a y axis from 0 to {AXIS_MAX}. "
               f"Bars from left to right: {listing}.")
    params = {"bars": bars, "value_labels": labelled}
    return Draft(question, _render(bars, labelled), caption, choices, answer, params)


def _ask(rng: random.Random, difficulty: float, bars: dict[str, int]) -> tuple[str, list[str], str]:
    kind = rng.choice(KINDS[: 3 + round(difficulty * 2)])
    names = list(bars)
    if kind in ("tallest", "shortest"):
        pick = (max if kind == "tallest" else min)(names, key=bars.__getitem__)
        others = rng.sample([c for c in names if c != pick], len(names) - 1)
        choices, answer = multiple_choice(rng, pick, others)
        return f"Which fruit has the {kind} bar?", choices, answer
    a, b = sorted(rng.sample(names, 2), key=bars.__getitem__, reverse=True)
    va, vb = bars[a], bars[b]
    if kind == "value":
        neighbours = [v for v in bars.values() if abs(v - va) <= 2]
        return (f"What is the value of the bar for {a}?", *numeric_answer(rng, va, neighbours, minimum=1))
    if kind == "difference":
        return (f"How much greater is the value for {a} than for {b}?",
                *numeric_answer(rng, va - vb, [va, vb, va + vb], minimum=1))
    return (f"What is the sum of the values for {a} and {b}?",
            *numeric_answer(rng, va + vb, [va - vb, va + vb + 2], minimum=1))


def _render(bars: dict[str, int], labelled: bool) -> Image.Image:
    image, draw = canvas(WIDTH, HEIGHT)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    unit = (y0 - y1) / AXIS_MAX
    for v in range(AXIS_MAX + 1):
        y = y0 - v * unit
        draw.line((x0, y, x1, y), fill=GREY if v else BLACK, width=1)
        label(draw, (x0 - 8, y), str(v), 13, anchor="rm")
    draw.line((x0, y0, x0, y1), fill=BLACK, width=1)
    label(draw, (WIDTH / 2, 22), "Fruit sold", 18)
    slot = (x1 - x0) / len(bars)
    for i, (name, value) in enumerate(bars.items()):
        cx = x0 + slot * (i + 0.5)
        top = y0 - value * unit
        draw.rectangle((cx - slot * 0.3, top, cx + slot * 0.3, y0 - 1), fill=PALETTE["blue"])
        label(draw, (cx, y0 + 14), name, 13)
        if labelled:
            label(draw, (cx, top - 9), str(value), 13)
    return image
