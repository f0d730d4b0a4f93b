"""Assess stage: a difficulty prior per problem and image clarity measured from pixels.

The prior comes from the source's ``metadata.difficulty`` when it has one (a generator's knob,
a benchmark's level), else from a text heuristic; both are recorded with their origin. The
teacher's empirical pass rate, the second signal, is added after verification.
"""
from __future__ import annotations

import io
import json
from typing import Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
from PIL import Image, ImageFilter, ImageStat
from pydantic import Field

from schemas.plan import Assessment
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import ASSESS
from transforms.failures import guarded


class AssessSettings(Settings):
    """Where difficulty comes from and the iteration's minimum judge quality.

    ``difficulty_from``: ``metadata`` (fall back to the heuristic), ``heuristic`` only,
    ``judge`` (the mean normalized judge score; the prior where a judgement is missing), or
    ``pass_rate`` (the prior plans the first samples; after they are verified the difficulty becomes
    1 - pass rate and the plan's band follows it: ``length.ReplanFromPassRate``).
    ``min_quality`` (judge scale 1–5, 0 = off): R1V's iterative rounds raise it (2, 3, 4, 5).
    """

    difficulty_from: Literal["metadata", "heuristic", "judge", "pass_rate"] = Field(
        default="metadata",
        description="Where difficulty comes from: metadata (metadata.difficulty, else the heuristic), heuristic, judge (the mean "
                    "normalized judge score), pass_rate (1 − the first samples' pass rate).",
    )
    min_quality: float = Field(
        default=0.0, ge=0.0, le=5.0,
        description="Drop problems whose judge quality is below this (judge scale 1–5; 0: off); R1V's rounds raise it 2, 3, 4, 5.",
    )
    clarity_scale: float = Field(
        default=500.0,
        description="Scale of an image's clarity score: an edge-response variance v scores v / (v + clarity_scale).",
    )


def clarity(image_bytes: bytes, scale: float) -> float:
    """Sharpness in [0, 1): variance of the edge response, squashed as v / (v + scale)."""
    with Image.open(io.BytesIO(image_bytes)) as img:
        edges = img.convert("L").filter(ImageFilter.FIND_EDGES)
        var = ImageStat.Stat(edges).var[0]
    return var / (var + scale)


def heuristic_difficulty(problem: Problem) -> float:
    """A prior in [0, 1] from the question: longer questions, open answers and more images are harder."""
    words = len(problem.question.split())
    score = 0.2 + 0.4 * min(words / 80.0, 1.0)
    score += 0.0 if problem.answer_type == "multiple_choice" else 0.25
    score += 0.15 if len(problem.images) > 1 else 0.0
    return min(score, 1.0)


def metadata_difficulty(problem: Problem) -> float | None:
    """``metadata.difficulty`` if it is a number in [0, 1]."""
    value = json.loads(problem.metadata or "{}").get("difficulty")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return float(value)
    return None


def assess(problem: Problem, settings: AssessSettings) -> Assessment:
    """The problem's difficulty prior and the mean clarity of its images."""
    prior = metadata_difficulty(problem) if settings.difficulty_from != "heuristic" else None
    clarities = [clarity(img.bytes, settings.clarity_scale) for img in problem.images if img.bytes]
    return Assessment(
        problem_id=problem.id,
        difficulty=prior if prior is not None else heuristic_difficulty(problem),
        difficulty_source="metadata" if prior is not None else "heuristic",
        clarity=sum(clarities) / len(clarities) if clarities else None,
    )


class Assess(beam.PTransform):
    """Problems → (Problem, Assessment) pairs."""

    def __init__(self, settings: AssessSettings):
        super().__init__()
        self._settings = settings

    def expand(self, problems):
        settings = self._settings
        assessed = Metrics.counter(ASSESS.name, "problems")

        def _assess(problem: Problem) -> tuple[Problem, Assessment]:
            assessment = assess(problem, settings)
            assessed.inc()
            Metrics.counter(ASSESS.name, f"difficulty_from_{assessment.difficulty_source}").inc()
            return problem, assessment

        return problems | "Assess" >> guarded(ASSESS.name, beam.Map(_assess))
