"""Answer judge: a model decides the chains no verifier rule could (``Verdict.unverifiable``).

Only unverifiable chains are sent (the rules decide everything else, for free). The judge sees
the question (text and caption, no images: comparing two answers needs the question, not the
picture), the reference answer with its unit, and the chain's extracted answer, and replies with
JSON constrained by a schema (the OpenAI ``response_format``; vLLM enforces it with structured
output): ``{"equivalent": bool, "rationale": str}``. Calls go through the teacher layer's one ask
path, so they are concurrent, retried and cached (a rerun makes no call). The verdict it decides
records ``decided_by="judge"`` and the judge's model; ``wrong_answer`` when it says they differ.
A reply still malformed after ``attempts`` tries (each with twice the token budget) or a request
that failed for good leaves the chain unverifiable (counted as ``undecided``).
"""
from __future__ import annotations

import asyncio
import dataclasses

import apache_beam as beam
from pydantic import BaseModel, Field, ValidationError

from schemas.generation import Generation, ProblemChains, Verdict
from schemas.plan import SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import ANSWER_JUDGE
from transforms.failures import guarded
from transforms.teacher_calls import Prompt, TeacherCallFn, as_is
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import question_text
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings, endpoint_field
from transforms.teachers.structured import attempt_plan, attempts_field, json_schema_format

INSTRUCTION = (
    "You check answers to questions. Reply with JSON only.\n"
    "equivalent: true when the candidate answer says the same as the reference answer for this question "
    "(the same value, thing or meaning, however worded); false when it says something else.\n"
    "rationale: one short sentence."
)


class AnswerJudgement(BaseModel):
    """The judge's reply; also the JSON schema it is constrained to."""

    equivalent: bool
    rationale: str = Field(default="", max_length=200)


RESPONSE_FORMAT = json_schema_format("answer_equivalence", AnswerJudgement)


class AnswerJudgeSettings(Settings):
    """The answer judge's model and sampling.

    ``endpoint`` None asks the run's teacher (same server and model); an ``endpoint.base_url`` of
    None means the run's teacher URL.
    """

    endpoint: TeacherSettings | None = endpoint_field()
    max_tokens: int = Field(default=128, gt=0, description="Token budget of a reply.")
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature of the answer judge.")
    attempts: int = attempts_field("chain")


def answer_messages(problem: Problem, candidate: str) -> list[dict]:
    """The instruction as the system turn; question, reference and candidate as the user turn."""
    reference = f"{problem.answer} {problem.unit}".strip()
    return [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": f"Question: {question_text(problem, with_caption=True)}\n\n"
                                    f"Reference answer: {reference}\nCandidate answer: {candidate}"},
    ]


def answer_plan(settings: AnswerJudgeSettings, attempt: int) -> SamplingPlan:
    """Sampling for one attempt (the token budget doubles per attempt)."""
    return attempt_plan(settings.max_tokens, settings.temperature, attempt, "answer_judge")


def parse_answer_judgement(content: str) -> AnswerJudgement:
    """The judgement in ``content``; raises ValidationError when it is not valid JSON of the schema."""
    return AnswerJudgement.model_validate_json(content.strip())


def judged_verdict(verdict: Verdict, judgement: AnswerJudgement, model: str) -> Verdict:
    """An unverifiable verdict decided by the judge: correct or ``wrong_answer``, with the judge's model."""
    equivalent = judgement.equivalent
    return dataclasses.replace(verdict, correct=equivalent, checks={**verdict.checks, "answer_match": equivalent},
                               reasons=[] if equivalent else ["wrong_answer"], unverifiable=False,
                               decided_by="judge", judge_model=model)


class AnswerJudgeFn(TeacherCallFn):
    """ProblemChains → the same, each unverifiable chain decided by the judge where it could."""

    def __init__(self, settings: AnswerJudgeSettings, endpoint: Endpoint):
        super().__init__(ANSWER_JUDGE.name, endpoint)
        self._settings = settings

    async def _decide(self, problem: Problem, generation: Generation) -> Generation:
        prompt = Prompt(answer_messages(problem, generation.verdict.extracted_answer or ""))
        for attempt in range(self._settings.attempts):
            try:
                answer = await self.ask(prompt, answer_plan(self._settings, attempt), attempt, RESPONSE_FORMAT)
                judgement = parse_answer_judgement(answer.completion.content)
            except ValidationError:
                continue
            except TeacherError:
                break
            self.count("equivalent" if judgement.equivalent else "different")
            return dataclasses.replace(generation, verdict=judged_verdict(generation.verdict, judgement, self.model))
        self.count("undecided")
        return generation

    async def _judge(self, chains: ProblemChains) -> ProblemChains:
        problem = chains.planned.problem
        decided = await asyncio.gather(*(
            self._decide(problem, g) if g.verdict and g.verdict.unverifiable else as_is(g) for g in chains.generations))
        return dataclasses.replace(chains, generations=list(decided))

    def process(self, chains: ProblemChains):
        if not any(g.verdict and g.verdict.unverifiable for g in chains.generations):
            yield chains
            return
        yield from self.submit(self._judge(chains), chains)


class AnswerJudge(beam.PTransform):
    """Verified ProblemChains → the same, unverifiable chains decided by the answer judge."""

    def __init__(self, settings: AnswerJudgeSettings, endpoint: Endpoint):
        super().__init__()
        self._fn = AnswerJudgeFn(settings, endpoint)

    def expand(self, chains):
        return chains | "AnswerJudge" >> guarded(ANSWER_JUDGE.name, beam.ParDo(self._fn))
