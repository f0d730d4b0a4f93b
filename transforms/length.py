"""Length control: map a problem's signals to its sampling plan (the plan is stored with every chain).

Policies:

- ``token_budget``: difficulty bands, each with a token budget, a target length for selection
  and a prompt style (concise / standard / thorough).
- ``r1v_drlc``: R1V's Dynamic Reasoning Length Controller on top of the bands — the repetition
  penalty ``P = min(2, exp(alpha * (1 - (S_v + beta*S_t + gamma*S_I) / (1 + beta + gamma))))``
  from the normalized judge scores, so easy, low-integration problems get a strong penalty
  (short chains) and hard ones P near 1. Without a judgement the difficulty prior stands in
  for the weighted score. R1V does not publish alpha, beta, gamma; the defaults here
  (0.3, 1, 1) cap P at e^0.3 ≈ 1.35, which a small teacher survives.
- ``pass_rate``: a probe of ``probe.samples`` chains per problem; problems whose probe pass
  rate is below ``probe.escalate_below`` get ``probe.extra_samples`` more chains with the band
  budget times ``probe.budget_factor`` (see ``transforms/escalate.py``).

With ``assess.difficulty_from: pass_rate`` the teacher's pass rate over the first samples becomes
the difficulty (``1 - pass rate``, source ``pass_rate``) and the plan moves to that difficulty's
band (budget, target length, prompt style) before any escalation and selection; the chains keep
the plan they were sampled with.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import Field, model_validator

from schemas.generation import ProblemChains
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import PLAN
from transforms.bands import Band, band_for
from transforms.failures import guarded
from transforms.probe import ProbeSettings


class DRLCSettings(Settings):
    """R1V's controller: alpha scales the penalty, beta and gamma weight S_t and S_I against S_v."""

    alpha: float = Field(
        default=0.3, gt=0.0,
        description="Scales the penalty P = min(2, exp(alpha · (1 − (S_v + beta·S_t + gamma·S_I) / (1 + beta + gamma)))).",
    )
    beta: float = Field(default=1.0, ge=0.0, description="Weight of S_t (text) against S_v (vision).")
    gamma: float = Field(default=1.0, ge=0.0, description="Weight of S_I (vision-text integration) against S_v.")


class LengthSettings(Settings):
    """The policy, sampling defaults and the difficulty bands every policy starts from."""

    policy: Literal["token_budget", "r1v_drlc", "pass_rate"] = Field(
        default="token_budget",
        description="token_budget: difficulty bands; r1v_drlc: R1V's controller sets the repetition penalty from the judge's scores "
                    "(needs a judge); pass_rate: a probe, then more samples where it fails.",
    )
    samples: int = Field(default=4, ge=1, le=64, description="Chains sampled per problem (policy pass_rate: probe.samples instead).")
    temperature: float = Field(default=0.8, ge=0.0, description="Sampling temperature of the teacher.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus sampling top_p.")
    repetition_penalty: float = Field(
        default=1.0, gt=0.0,
        description="Repetition penalty sent with requests (1: none); r1v_drlc computes its own.",
    )
    drlc: DRLCSettings = Field(default=DRLCSettings(), description="R1V's Dynamic Reasoning Length Controller (policy r1v_drlc).")
    probe: ProbeSettings = Field(default=ProbeSettings(), description="The pass_rate policy's probe and escalation.")
    bands: list[Band] = Field(
        default=[
            Band(name="easy", max_difficulty=0.34, max_tokens=256, prompt_style="concise"),
            Band(name="medium", max_difficulty=0.67, max_tokens=512, prompt_style="standard"),
            Band(name="hard", max_difficulty=1.0, max_tokens=1024, prompt_style="thorough"),
        ],
        description="Difficulty bands, sorted by max_difficulty, the last reaching 1.0: each a token budget, target length and prompt "
                    "style.",
    )

    @model_validator(mode="after")
    def _bands_cover(self) -> LengthSettings:
        limits = [b.max_difficulty for b in self.bands]
        if not limits or limits != sorted(limits) or limits[-1] < 1.0:
            raise ValueError("bands must be sorted by max_difficulty and the last must reach 1.0")
        return self


def drlc_penalty(vision: float, text: float, integration: float, settings: DRLCSettings) -> float:
    """R1V's repetition penalty from normalized scores in [0, 1]."""
    weighted = (vision + settings.beta * text + settings.gamma * integration) / (1 + settings.beta + settings.gamma)
    return min(2.0, math.exp(settings.alpha * (1.0 - weighted)))


def repetition_penalty(assessment: Assessment, settings: LengthSettings) -> float:
    """The plan's repetition penalty: DRLC's (prior as fallback) or the configured constant."""
    if settings.policy != "r1v_drlc":
        return settings.repetition_penalty
    if assessment.vision_score is None:
        d = assessment.difficulty
        return drlc_penalty(d, d, d, settings.drlc)
    return drlc_penalty(assessment.vision_score, assessment.text_score, assessment.integration_score, settings.drlc)


def plan_for(assessment: Assessment, settings: LengthSettings) -> SamplingPlan:
    """The first-round plan for one problem (the probe, under the pass-rate policy)."""
    band = band_for(assessment.difficulty, settings.bands)
    return SamplingPlan(
        n=settings.probe.samples if settings.policy == "pass_rate" else settings.samples,
        max_tokens=band.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repetition_penalty=repetition_penalty(assessment, settings),
        prompt_style=band.prompt_style,
        length_budget=band.target,
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
        planned, samples = Metrics.counter(PLAN.name, "problems"), Metrics.counter(PLAN.name, "samples")

        def _plan(pair: tuple[Problem, Assessment]) -> PlannedProblem:
            problem, assessment = pair
            plan = plan_for(assessment, settings)
            planned.inc()
            samples.inc(plan.n)
            Metrics.counter(PLAN.name, f"band_{plan.band}").inc()
            return PlannedProblem(problem=problem, assessment=assessment, plan=plan)

        return assessed | "Plan" >> guarded(PLAN.name, beam.Map(_plan))


def replanned(chains: ProblemChains, bands: list[Band]) -> ProblemChains:
    """The chains with the problem's difficulty set from the teacher's pass rate (``1 - pass rate``) and the plan moved
    to that difficulty's band; unchanged when no sample was decided (all unverifiable), as the rate says nothing then."""
    if not any(g.verdict and not g.verdict.unverifiable for g in chains.sampled):
        return chains
    assessment = dataclasses.replace(chains.planned.assessment, difficulty=1.0 - chains.pass_rate,
                                     difficulty_source="pass_rate")
    band = band_for(assessment.difficulty, bands)
    plan = dataclasses.replace(chains.planned.plan, band=band.name, max_tokens=band.max_tokens, length_budget=band.target,
                               prompt_style=band.prompt_style)
    generations = [dataclasses.replace(g, difficulty=assessment.difficulty, assessment=assessment) for g in chains.generations]
    return ProblemChains(planned=dataclasses.replace(chains.planned, assessment=assessment, plan=plan), generations=generations)


class ReplanFromPassRate(beam.PTransform):
    """Verified ProblemChains → the same, difficulty from the pass rate and the plan in its band (:func:`replanned`)."""

    def __init__(self, settings: LengthSettings):
        super().__init__()
        self._bands = settings.bands

    def expand(self, chains):
        bands = self._bands
        moved = Metrics.counter(PLAN.name, "moved_band_by_pass_rate")

        def _replan(item: ProblemChains) -> ProblemChains:
            out = replanned(item, bands)
            if out.planned.plan.band != item.planned.plan.band:
                moved.inc()
            return out

        return chains | "PassRateDifficulty" >> guarded(PLAN.name, beam.Map(_replan))
