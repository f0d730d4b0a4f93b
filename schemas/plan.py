"""Per-problem assessment and the sampling plan derived from it."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.problem import Problem


@dataclass
class Assessment:
    """How hard and how good a problem is, and where each signal came from.

    Judge scores (S_v, S_t, S_I) are the judge's 1–5 answers until the run's scores are
    min-max normalized to [0, 1] (``transforms/scores.py``); None when no judge ran or it failed,
    in which case ``judge_error`` says why. ``quality`` is the mean raw judge score (1–5).
    ``difficulty`` is in [0, 1]; ``difficulty_source`` names its origin
    (``metadata``, ``heuristic``, ``judge`` or ``pass_rate``).
    """

    problem_id: str
    difficulty: float
    difficulty_source: str
    clarity: float | None = None
    vision_score: float | None = None
    text_score: float | None = None
    integration_score: float | None = None
    judge_model: str | None = None
    rationale: str | None = None
    quality: float | None = None
    judge_error: str | None = None


ASSESSMENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("problem_id", pa.string()),
    ("difficulty", pa.float64()),
    ("difficulty_source", pa.string()),
    ("clarity", pa.float64()),
    ("vision_score", pa.float64()),
    ("text_score", pa.float64()),
    ("integration_score", pa.float64()),
    ("judge_model", pa.string()),
    ("rationale", pa.string()),
    ("quality", pa.float64()),
    ("judge_error", pa.string()),
]
ASSESSMENT_SCHEMA = pa.schema(ASSESSMENT_FIELDS)
ASSESSMENT_TYPE = pa.struct(ASSESSMENT_FIELDS)
"""The assessment as one struct column: persisted with every chain (``generations/``) and output row."""


@dataclass
class SamplingPlan:
    """The sampling settings one problem is generated with, and the policy that chose them.

    ``length_budget`` is the chain length selection aims for; ``first_sample`` numbers this
    plan's samples from there (a pass-rate escalation continues after the probe's samples).
    """

    n: int
    max_tokens: int
    temperature: float
    top_p: float
    repetition_penalty: float
    prompt_style: str
    length_budget: int
    policy: str
    band: str
    first_sample: int = 0


SAMPLING_PLAN_TYPE = pa.struct(
    [
        ("n", pa.int32()),
        ("max_tokens", pa.int32()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("repetition_penalty", pa.float64()),
        ("prompt_style", pa.string()),
        ("length_budget", pa.int32()),
        ("policy", pa.string()),
        ("band", pa.string()),
        ("first_sample", pa.int32()),
    ]
)


@dataclass
class PlannedProblem:
    """A problem on its way to the teacher: its assessment and the plan it is sampled with."""

    problem: Problem
    assessment: Assessment
    plan: SamplingPlan
