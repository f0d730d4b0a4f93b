"""Per-problem assessment and the sampling plan derived from it."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.derive import Int32, arrow_type
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


ASSESSMENT_TYPE: pa.StructType = arrow_type(Assessment)
"""The assessment as one struct column: persisted with every chain (``generations/``) and output row."""


@dataclass
class SamplingPlan:
    """The sampling settings one problem is generated with, and the policy that chose them.

    ``length_budget`` is the chain length selection aims for; ``first_sample`` numbers this
    plan's samples from there (a pass-rate escalation continues after the probe's samples).
    """

    n: Int32
    max_tokens: Int32
    temperature: float
    top_p: float
    repetition_penalty: float
    prompt_style: str
    length_budget: Int32
    policy: str
    band: str
    first_sample: Int32 = 0


@dataclass
class PlannedProblem:
    """A problem on its way to the teacher: its assessment and the plan it is sampled with."""

    problem: Problem
    assessment: Assessment
    plan: SamplingPlan
