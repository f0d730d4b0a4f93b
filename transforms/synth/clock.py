"""Reading an analogue clock: the time shown, minutes past or until the hour, time elapsed.

Difficulty refines the minute step (half hours, quarters, five minutes, single minutes;
minute ticks appear once single minutes are possible) and unlocks elapsed-time questions.
"""
from __future__ import annotations

import math
import random

from PIL import Image

from transforms.synth.answers import multiple_choice, numeric_answer
from transforms.synth.draw import BLACK, PALETTE, canvas, label
from transforms.synth.record import Draft

SUBJECT = "clock"
SIZE = 384
CENTRE, RADIUS = SIZE / 2, SIZE / 2 - 14
STEPS = (30, 15, 5, 1)
KINDS = ("time", "minutes", "until", "elapsed")


def make(rng: random.Random, difficulty: float) -> Draft:
    """One clock-reading problem."""
    step = STEPS[min(len(STEPS) - 1, int(difficulty * len(STEPS)))]
    hour, minute = rng.randint(1, 12), step * rng.randrange(60 // step)
    question, choices, answer = _ask(rng, difficulty, hour, minute, step)
    where = f"points at {hour}" if minute == 0 else f"is between {hour} and {hour % 12 + 1}"
    caption = (f"An analogue clock face numbered 1 to 12{' with minute ticks' if step == 1 else ''}. "
               f"The short hour hand {where}; the long red minute hand points at minute {minute}. "
               f"The clock shows {_fmt(hour, minute)}.")
    params = {"hour": hour, "minute": minute}
    return Draft(question, _render(hour, minute, step == 1), caption, choices, answer, params)


def _fmt(hour: int, minute: int) -> str:
    return f"{hour}:{minute:02d}"


def _shift(hour: int, minute: int, delta: int) -> tuple[int, int]:
    """The 12-hour clock time ``delta`` minutes later (negative: earlier)."""
    total = (hour % 12 * 60 + minute + delta) % 720
    return total // 60 or 12, total % 60


def _ask(rng: random.Random, difficulty: float, hour: int, minute: int, step: int) -> tuple[str, list[str], str]:
    kind = rng.choice(KINDS[: 2 + round(difficulty * 2)])
    if kind == "time":
        swapped = (round(minute / 5) or 12, hour % 12 * 5)  # hands read the wrong way round
        near = [_shift(hour, minute, d) for d in (60, -60, 5, -5, 15, 30)]
        rng.shuffle(near)
        options = [_fmt(*t) for t in [swapped, *near]]
        return "What time does the clock show?", *multiple_choice(rng, _fmt(hour, minute), options)
    if kind == "elapsed":
        delta = step * rng.randint(max(1, 10 // step), 120 // step)
        question = f"How many minutes have passed since {_fmt(*_shift(hour, minute, -delta))}?"
        return question, *numeric_answer(rng, delta, [delta + 60, abs(delta - 60)], minimum=1)
    if kind == "until" and minute:
        question = "How many minutes are left until the next full hour?"
        return question, *numeric_answer(rng, 60 - minute, [minute], step=5, minimum=1, maximum=60)
    question = "How many minutes past the hour is it?"
    return question, *numeric_answer(rng, minute, [60 - minute, hour * 5], step=5, maximum=59)


def _point(angle_deg: float, length: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return CENTRE + length * math.sin(a), CENTRE - length * math.cos(a)


def _render(hour: int, minute: int, minute_ticks: bool) -> Image.Image:
    image, draw = canvas(SIZE, SIZE)
    face = (CENTRE - RADIUS, CENTRE - RADIUS, CENTRE + RADIUS, CENTRE + RADIUS)
    draw.ellipse(face, fill=(250, 248, 240), outline=BLACK, width=4)
    for tick in range(0, 60, 1 if minute_ticks else 5):
        major = tick % 5 == 0
        ends = [_point(tick * 6, RADIUS - (20 if major else 12)), _point(tick * 6, RADIUS - 2)]
        draw.line(ends, fill=BLACK, width=3 if major else 1)
    for numeral in range(1, 13):
        label(draw, _point(numeral * 30, RADIUS - 38), str(numeral), 26)
    draw.line([(CENTRE, CENTRE), _point((hour % 12 + minute / 60) * 30, RADIUS * 0.5)], fill=BLACK, width=9)
    draw.line([(CENTRE, CENTRE), _point(minute * 6, RADIUS - 14)], fill=PALETTE["red"], width=3)
    draw.ellipse((CENTRE - 7, CENTRE - 7, CENTRE + 7, CENTRE + 7), fill=BLACK)
    return image
