"""Evaluate stage: ask a model each problem once, as a student is asked, and verify its answer.

The request goes through the teacher-call machinery (:class:`TeacherCallFn`: the one ask path with
its response cache, at most ``max_in_flight`` calls at once, each problem emitted when its answer
arrives); the prompt is the SFT rows' user turn (:mod:`transforms.student`); the answer becomes a
:class:`Generation` as generate makes it and gets its verdict as verify gives it, so an evaluated
answer is judged exactly as a teacher's chain is. One sample per problem, under one sampling plan
for every problem (``EvaluateSettings``; greedy by default), so two models evaluated with the same
settings are compared on equal terms. A call that fails for good dead-letters the problem with
the reason ``teacher_<reason>``.
"""
from __future__ import annotations

from typing import Literal

import apache_beam as beam
from pydantic import Field

from schemas.evaluation import EvalItem
from schemas.outputs import RejectRow
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import EVALUATE
from transforms.bands import Band, band_for
from transforms.failures import guarded
from transforms.generations import to_generation
from transforms.student import student_messages
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.registry import Endpoint
from transforms.verdicts import verify_generation
from transforms.verifiers import warm_up
from transforms.verifiers.config import VerifyConfig


class EvaluateSettings(Settings):
    """How every problem is asked: one sample, these sampling settings, the prompt in ``modality``'s form
    (``text``: the caption in the images' place; ``vision``: the images at their tags)."""

    max_tokens: int = Field(default=512, gt=0)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.0, gt=0.0)
    modality: Literal["text", "vision"] = "text"

    def plan(self, band: Band) -> SamplingPlan:
        """The one-sample plan for a problem of ``band`` (the band names the problem's group; it changes nothing sent)."""
        return SamplingPlan(n=1, max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p,
                            repetition_penalty=self.repetition_penalty, prompt_style="student",
                            length_budget=self.max_tokens, policy="evaluate", band=band.name)


class EvaluateFn(TeacherCallFn):
    """(Problem, Assessment) → EvalItem (main) or a dead-letter row."""

    def __init__(self, endpoint: Endpoint, settings: EvaluateSettings, bands: list[Band], verify: VerifyConfig):
        super().__init__(EVALUATE.name, endpoint)
        self._settings = settings
        self._bands = bands
        self._verify = verify

    def setup(self):
        super().setup()
        warm_up()  # SymPy's and pint's one-time setup, before the first verdict's budget runs

    async def _evaluate(self, problem: Problem, assessment: Assessment) -> EvalItem | RejectRow:
        planned = PlannedProblem(problem, assessment, self._settings.plan(band_for(assessment.difficulty, self._bands)))
        try:
            answer = await self.ask(Prompt(student_messages(problem, self._settings.modality), problem), planned.plan)
        except TeacherError as exc:
            return RejectRow(row_id=problem.id, source=problem.source, stage=EVALUATE.name, reason=f"teacher_{exc.reason}",
                             detail=exc.detail)
        generation = verify_generation(to_generation(planned, 0, answer, self.model), problem, self._verify)
        verdict = generation.verdict
        return EvalItem(problem_id=problem.id, source=problem.source, band=planned.plan.band,
                        difficulty=assessment.difficulty, answer_type=problem.answer_type, correct=verdict.correct,
                        unverifiable=verdict.unverifiable, extracted_answer=verdict.extracted_answer,
                        reasons=list(verdict.reasons), completion_tokens=generation.completion_tokens,
                        finish_reason=generation.finish_reason, content=generation.content, cached=answer.cached)

    def process(self, pair: tuple[Problem, Assessment]):
        problem, assessment = pair
        yield from self.submit(self._evaluate(problem, assessment), pair)


class EvaluateProblems(beam.PTransform):
    """(Problem, Assessment) pairs → EvalItems (main, ``items``) and dead letters for failed calls."""

    def __init__(self, endpoint: Endpoint, settings: EvaluateSettings, bands: list[Band], verify: VerifyConfig):
        super().__init__()
        self._fn = EvaluateFn(endpoint, settings, bands, verify)

    def expand(self, assessed):
        return assessed | "Evaluate" >> guarded(EVALUATE.name, beam.ParDo(self._fn).with_outputs(DEAD_LETTER, main="items"))
