"""Length control: map a problem's difficulty to its sampling plan.

``token_budget`` (the policy here): difficulty bands, each with a token budget and a prompt
style (concise / standard / thorough); the plan used is stored with every generation.
"""
from __future__ import annotations

from typing import Literal

import apache_beam as beam
from pydantic import Field, model_validator

from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings

PromptStyle = Literal["concise", "standard", "thorough"]


class Band(Settings):
    """Problems with difficulty <= ``max_difficulty`` (and above the previous band) get this budget."""

    name: str
    max_difficulty: float = Field(ge=0.0, le=1.0)
    max_tokens: int = Field(gt=0)
    prompt_style: PromptStyle = "standard"


class LengthSettings(Settings):
    """Sampling defaults and the difficulty bands of the token-budget policy."""

    policy: Literal["token_budget"] = "token_budget"
    samples: int = Field(default=4, ge=1, le=64)
    temperature: float = Field(default=0.8, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.0, gt=0.0)
    bands: list[Band] = [
        Band(name="easy", max_difficulty=0.34, max_tokens=256, prompt_style="concise"),
        Band(name="medium", max_difficulty=0.67, max_tokens=512, prompt_style="standard"),
        Band(name="hard", max_difficulty=1.0, max_tokens=1024, prompt_style="thorough"),
    ]

    @model_validator(mode="after")
    def _bands_cover(self) -> "LengthSettings":
        limits = [b.max_difficulty for b in self.bands]
        if not limits or limits != sorted(limits) or limits[-1] < 1.0:
            raise ValueError("bands must be sorted by max_difficulty and the last must reach 1.0")
        return self


def band_for(difficulty: float, bands: list[Band]) -> Band:
    """The first band whose ``max_difficulty`` is at least ``difficulty``."""
    return next(b for b in bands if difficulty <= b.max_difficulty)


def plan_for(assessment: Assessment, settings: LengthSettings) -> SamplingPlan:
    """The token-budget plan for one problem."""
    band = band_for(assessment.difficulty, settings.bands)
    return SamplingPlan(
        n=settings.samples,
        max_tokens=band.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repetition_penalty=settings.repetition_penalty,
        prompt_style=band.prompt_style,
        length_budget=band.max_tokens,
        policy=settings.policy,
        band=band.name,
    )


class PlanLength(beam.PTransform):
    """(Problem, Assessment) pairs → PlannedProblems."""

    def __init__(self, settings: LengthSettings):
        super().__init__()
        self._settings = settings

    def expand(self, assessed):
        settings = self._settings

        def _plan(pair: tuple[Problem, Assessment]) -> PlannedProblem:
            problem, assessment = pair
            return PlannedProblem(problem=problem, assessment=assessment, plan=plan_for(assessment, settings))

        return assessed | "Plan" >> beam.Map(_plan)
