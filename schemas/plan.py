"""Per-problem assessment and the sampling plan derived from it."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.problem import Problem


@dataclass
class Assessment:
    """How hard and how good a problem is, and where each signal came from.

    Judge scores (S_v, S_t, S_I) are normalized to [0, 1] and None when no judge ran.
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


ASSESSMENT_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("difficulty", pa.float64()),
        ("difficulty_source", pa.string()),
        ("clarity", pa.float64()),
        ("vision_score", pa.float64()),
        ("text_score", pa.float64()),
        ("integration_score", pa.float64()),
        ("judge_model", pa.string()),
        ("rationale", pa.string()),
    ]
)


@dataclass
class SamplingPlan:
    """The sampling settings one problem is generated with, and the policy that chose them."""

    n: int
    max_tokens: int
    temperature: float
    top_p: float
    repetition_penalty: float
    prompt_style: str
    length_budget: int
    policy: str
    band: str


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
    ]
)


@dataclass
class PlannedProblem:
    """A problem on its way to the teacher: its assessment and the plan it is sampled with."""

    problem: Problem
    assessment: Assessment
    plan: SamplingPlan
