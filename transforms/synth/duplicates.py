"""Planted duplicates for evaluating dedup: known duplicate groups among synthetic problems.

Each original gets variants a dedup stage must catch — question re-spaced and re-cased, lightly
paraphrased, image resized and re-encoded as JPEG, or both — while the other generated problems
are the near-misses that must survive (same template, different numbers). Ground truth is the
problem's content, not its id: two problems are duplicates when family, question template,
drawing parameters and answer value agree, so duplicates the generator itself happens to draw
are counted too.
"""
from __future__ import annotations

import dataclasses
import io
import json
import random
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from transforms.synth.record import SynthProblem
from transforms.synth.registry import generate

PARAPHRASES = (
    ("Which fruit", "What fruit"), ("What is the", "Find the"), ("How many", "Count how many"),
    ("tallest", "highest"), ("clock show", "clock display"), ("in total", "altogether"),
    ("centimetres", "centimeters"), ("colour", "color"), ("coordinates", "co-ordinates"),
)


def respace_recase(question: str) -> str:
    """The question upper-cased with doubled spaces and a space before the final punctuation."""
    return "  ".join(question.upper().split()).replace("?", " ?")


def paraphrase(question: str) -> str:
    """The question with its first applicable wording swap (a light paraphrase)."""
    for old, new in PARAPHRASES:
        if old in question:
            return question.replace(old, new, 1)
    return "Please answer: " + question


def degrade_image(image: Image.Image, scale: float = 0.7, quality: int = 70) -> Image.Image:
    """The image resized by ``scale`` and round-tripped through JPEG at ``quality``."""
    small = image.convert("RGB").resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


Variant = Callable[[SynthProblem], SynthProblem]
VARIANTS: dict[str, Variant] = {
    "respaced": lambda p: dataclasses.replace(p, question=respace_recase(p.question)),
    "paraphrased": lambda p: dataclasses.replace(p, question=paraphrase(p.question)),
    "jpeg": lambda p: dataclasses.replace(p, image=degrade_image(p.image)),
    "paraphrased_jpeg": lambda p: dataclasses.replace(p, question=paraphrase(p.question), image=degrade_image(p.image, 0.8, 80)),
}


def content_key(problem: SynthProblem) -> str:
    """What makes two generated problems the same: family, question, drawing parameters, answer value."""
    answer = problem.choices[ord(problem.answer) - ord("A")] if problem.choices else problem.answer
    return json.dumps([problem.family, problem.question, problem.params, answer], sort_keys=True, default=str)


@dataclass
class PlantedSet:
    """Problems (originals, variants, near-misses, shuffled) and each one's content group."""

    problems: list[SynthProblem]
    group: dict[str, str]

    def expected_drops(self) -> int:
        """Problems that must go: every group member but one."""
        return len(self.group) - len(set(self.group.values()))


def planted(n: int, seed: int, duplicate_share: float = 0.3) -> PlantedSet:
    """``n`` generated problems plus one variant (kinds in turn) for ``duplicate_share`` of them."""
    base = list(generate(n, seed))
    rng = random.Random(seed)
    kinds = list(VARIANTS)
    problems = list(base)
    group = {p.id: content_key(p) for p in base}
    for i, original in enumerate(rng.sample(base, int(n * duplicate_share))):
        kind = kinds[i % len(kinds)]
        variant = dataclasses.replace(VARIANTS[kind](original), id=f"{original.id}-{kind}")
        problems.append(variant)
        group[variant.id] = group[original.id]
    rng.shuffle(problems)
    return PlantedSet(problems=problems, group=group)
