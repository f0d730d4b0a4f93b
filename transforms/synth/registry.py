"""The family registry and the seeded, order-independent problem stream."""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Protocol

from transforms.synth import bar_chart, clock, compare_counts, counting, geometry, grid_points
from transforms.synth.record import Draft, SynthProblem


class Family(Protocol):
    """A problem family module: a subject name and a seeded problem maker."""

    SUBJECT: str

    def make(self, rng: random.Random, difficulty: float) -> Draft: ...


FAMILIES: dict[str, Family] = {
    "bar_chart": bar_chart,
    "geometry": geometry,
    "counting": counting,
    "clock": clock,
    "grid_points": grid_points,
}
#: Families with several images per problem: opt-in (``families=[...]``), not in the default mix.
MULTI_IMAGE_FAMILIES: dict[str, Family] = {"compare_counts": compare_counts}
ALL_FAMILIES: dict[str, Family] = FAMILIES | MULTI_IMAGE_FAMILIES


def problem(family: str, seed: int, index: int, difficulty: tuple[float, float] = (0.0, 1.0)) -> SynthProblem:
    """Problem ``index`` of ``family`` under ``seed``; a pure function of its arguments."""
    low, high = difficulty
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"difficulty range must satisfy 0 <= low <= high <= 1, got {difficulty}")
    pid = f"synth-{family}-{seed}-{index}"
    rng = random.Random(int.from_bytes(hashlib.sha256(pid.encode()).digest()[:8], "big"))
    level = round(rng.uniform(low, high), 4)
    module = ALL_FAMILIES[family]
    draft = module.make(rng, level)
    return SynthProblem(
        id=pid,
        family=family,
        question=draft.question,
        image=draft.image,
        choices=draft.choices,
        answer=draft.answer,
        answer_type="multiple_choice" if draft.choices else "numeric",
        subject=module.SUBJECT,
        caption=draft.caption,
        difficulty=level,
        params=draft.params,
        extra_images=draft.extra_images,
    )


def generate(
    n: int, seed: int, families: list[str] | None = None, difficulty: tuple[float, float] = (0.0, 1.0)
) -> Iterator[SynthProblem]:
    """``n`` problems, round-robin over ``families`` (default: the single-image ones), difficulty uniform in the range.

    Problem i depends only on (family list, seed, i, difficulty range), never on ``n``.
    """
    names = list(families) if families else list(FAMILIES)
    unknown = sorted(set(names) - set(ALL_FAMILIES))
    if unknown:
        raise ValueError(f"unknown synth families {unknown}; known: {sorted(ALL_FAMILIES)}")
    for index in range(n):
        yield problem(names[index % len(names)], seed, index, difficulty)
