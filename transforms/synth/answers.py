"""Answer formatting and multiple-choice assembly shared by all families."""
from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

LETTERS = "ABCD"
Number = int | Fraction


def fmt_number(value: Number) -> str:
    """Canonical exact decimal string: ``12``, ``7.5``, ``-3.25`` (value must terminate)."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    if Fraction(text) != value:
        raise ValueError(f"{value} has no exact short decimal form")
    return text


def multiple_choice(rng: random.Random, correct: str, distractors: Iterable[str]) -> tuple[list[str], str]:
    """Four options: ``correct`` plus the first three distinct distractors, shuffled.

    Returns ``(choices, letter)``; raises if fewer than three usable distractors are given.
    """
    picked: list[str] = []
    for option in distractors:
        if option != correct and option not in picked:
            picked.append(option)
        if len(picked) == len(LETTERS) - 1:
            break
    else:
        raise ValueError(f"need {len(LETTERS) - 1} distinct distractors for {correct!r}, got {picked}")
    choices = [correct, *picked]
    rng.shuffle(choices)
    return choices, LETTERS[choices.index(correct)]


def near_misses(
    rng: random.Random, value: Number, plausible: Iterable[Number], step: Number, bounds: tuple[Number, Number | None]
) -> list[Number]:
    """Numeric distractors within ``bounds`` (max None: unbounded): the ``plausible`` mistakes, then value +/- k*step.

    Both groups are shuffled so the answer is not always the middle option.
    """
    low, high = bounds
    mistakes = list(plausible)
    offsets = [k * step for k in (1, 2, 3, 4)] + [-k * step for k in (1, 2, 3, 4)]
    rng.shuffle(mistakes)
    rng.shuffle(offsets)
    candidates = mistakes + [value + o for o in offsets]
    return [c for c in candidates if c != value and low <= c and (high is None or c <= high)]


def numeric_answer(
    rng: random.Random,
    value: Number,
    plausible: Iterable[Number] = (),
    step: Number = 1,
    minimum: Number = 0,
    maximum: Number | None = None,
) -> tuple[list[str], str]:
    """Either a bare numeric answer or (half the time) a four-way choice among near misses in range."""
    if rng.random() < 0.5:
        return [], fmt_number(value)
    distractors = near_misses(rng, value, plausible, step, (minimum, maximum))
    return multiple_choice(rng, fmt_number(value), map(fmt_number, distractors))
