"""Judge stage: R1V's quality and difficulty assessment of each image-question pair by a model.

The judge answers S_v (vision), S_t (text) and S_I (vision-text integration), 1–5 each, with a
short rationale, as JSON constrained by a schema (the OpenAI ``response_format``; vLLM enforces
it with structured output). Calls go through the teacher layer, so they are concurrent, retried
and cached like any teacher call. A judgement that is still malformed after ``attempts`` tries
(each with twice the token budget: a cut-off JSON is the usual failure), or whose request failed
for good, is recorded as missing with ``judge_error`` — the problem flows on and the length
policy falls back to the difficulty prior.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from pydantic import Field, ValidationError

from schemas.plan import Assessment, SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import JUDGE
from transforms.failures import guarded
from transforms.judgement import RESPONSE_FORMAT, Judgement, parse_judgement, with_judgement
from transforms.teacher_calls import Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import Modality, problem_content
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings, endpoint_field
from transforms.teachers.structured import attempt_plan, attempts_field

RUBRIC = (
    "You rate image-question pairs for a visual reasoning dataset. Reply with JSON only.\n"
    "vision_score (1-5): how clear the image is and how much the question depends on it.\n"
    "text_score (1-5): how well posed the question is, how hard, how much reasoning it needs.\n"
    "integration_score (1-5): how much answering needs the image and the text together.\n"
    "rationale: one short sentence."
)


class JudgeSettings(Settings):
    """The judge model and how it is sampled.

    ``endpoint`` None judges with the run's teacher (same server and model); a
    ``endpoint.base_url`` of None means the run's teacher URL.
    """

    endpoint: TeacherSettings | None = endpoint_field()
    max_tokens: int = Field(default=160, gt=0, description="Token budget of a judgement.")
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature of the judge.")
    attempts: int = attempts_field("problem")


def judge_messages(problem: Problem, modality: Modality) -> list[dict]:
    """The rubric as the system turn, the problem (images or caption, question, options) as the user turn."""
    return [
        {"role": "system", "content": RUBRIC},
        {"role": "user", "content": problem_content(problem, "Rate this image-question pair.", modality)},
    ]


def judge_plan(settings: JudgeSettings, attempt: int) -> SamplingPlan:
    """Sampling for one judge attempt (the token budget doubles per attempt)."""
    return attempt_plan(settings.max_tokens, settings.temperature, attempt, "judge")


class JudgeFn(TeacherCallFn):
    """(Problem, Assessment) → the same pair with the judge's scores or ``judge_error``."""

    def __init__(self, settings: JudgeSettings, endpoint: Endpoint):
        super().__init__(JUDGE.name, endpoint)
        self._judge = settings

    async def _attempt(self, prompt: Prompt, attempt: int) -> Judgement:
        answer = await self.ask(prompt, judge_plan(self._judge, attempt), attempt, RESPONSE_FORMAT)
        return parse_judgement(answer.completion.content)

    async def _assess(self, problem: Problem, assessment: Assessment) -> tuple[Problem, Assessment]:
        prompt = Prompt(judge_messages(problem, self.endpoint.settings.modality), problem)
        error = "no_attempt"
        for attempt in range(self._judge.attempts):
            try:
                judgement = await self._attempt(prompt, attempt)
            except ValidationError as exc:
                error = f"malformed_judgement: {exc.errors()[0]['msg']}"[:300]
                continue
            except TeacherError as exc:
                error = f"teacher_{exc.reason}: {exc.detail}"[:300]
                break
            return problem, with_judgement(assessment, judgement, self.model)
        self.count("missing")
        return problem, dataclasses.replace(assessment, judge_model=self.model, judge_error=error)

    def process(self, pair: tuple[Problem, Assessment]):
        yield from self.submit(self._assess(*pair), pair)


class Judge(beam.PTransform):
    """(Problem, Assessment) pairs → the same pairs, judged (raw 1–5 scores or a recorded failure)."""

    def __init__(self, settings: JudgeSettings, endpoint: Endpoint):
        super().__init__()
        self._fn = JudgeFn(settings, endpoint)

    def expand(self, pairs):
        return pairs | "Judge" >> guarded(JUDGE.name, beam.ParDo(self._fn))
