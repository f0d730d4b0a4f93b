"""Chain scorer: a model rates each verified chain 0–5, R1V's reward-model score for its iterative rounds.

R1V's iterative SFT kept chains whose reward-model score reached a rising bar (2, 3, 4, 5); R1V2
ranks preference pairs by reward (MPO). The scorer sees the problem (images or caption, question,
options), the reference answer and the chain, and replies with JSON constrained by a schema (the
OpenAI ``response_format``; vLLM enforces it): ``{"score": 0..5, "rationale": str}``. Calls go
through the teacher layer's one ask path (concurrent, retried, cached: a rerun makes no call).
``chains`` picks what is scored: ``correct`` chains only (what the quality bar filters), or every
``decided`` chain (correct or wrong: MPO's worst chain may be a wrong one). A reply still malformed
after ``attempts`` tries (each with twice the token budget) or a request that failed for good leaves
the chain unscored (``chain_score`` None, counted as ``unscored``); ``select.min_chain_quality`` treats
an unscored chain as below the bar.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Literal

import apache_beam as beam
from pydantic import BaseModel, Field, ValidationError

from schemas.generation import Generation, ProblemChains
from schemas.plan import SamplingPlan
from schemas.problem import Problem
from schemas.settings import Settings
from schemas.stages import SCORE
from transforms.failures import guarded
from transforms.teacher_calls import Prompt, TeacherCallFn, as_is
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import Modality, problem_content
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings, endpoint_field
from transforms.teachers.structured import attempt_plan, attempts_field, json_schema_format

RUBRIC = (
    "You score a model's response to an image-question problem for a reasoning dataset. Reply with JSON only.\n"
    "score (0-5): 5 = correct, every step right, clear and without detours; 4 = correct with minor flaws; "
    "3 = correct answer but weak or partly wrong steps; 2 = muddled or mostly guessed; 1 = wrong reasoning; "
    "0 = no usable reasoning.\n"
    "rationale: one short sentence."
)


class ChainScore(BaseModel):
    """The scorer's reply; also the JSON schema it is constrained to."""

    score: int = Field(ge=0, le=5)
    rationale: str = Field(default="", max_length=120)  # enforced by structured output: keeps a looping reply short


RESPONSE_FORMAT = json_schema_format("chain_quality", ChainScore)


class ScorerSettings(Settings):
    """The chain scorer's model, sampling and which chains it scores.

    ``endpoint`` None asks the run's teacher (same server and model); an ``endpoint.base_url`` of
    None means the run's teacher URL. ``max_chain_chars`` bounds the chain text sent (the rest is cut).
    """

    endpoint: TeacherSettings | None = endpoint_field()
    chains: Literal["correct", "decided"] = Field(
        default="correct",
        description="Which chains are scored: correct ones, or every decided one (correct or wrong).",
    )
    max_tokens: int = Field(default=96, gt=0, description="Token budget of a score reply.")
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature of the scorer.")
    attempts: int = attempts_field("chain")
    max_chain_chars: int = Field(default=12_000, ge=100, description="Most characters of a chain sent to the scorer (the rest is cut).")


def wants_score(generation: Generation, chains: str) -> bool:
    """Whether ``chains`` (``correct`` | ``decided``) includes this verified chain (near-repeats are never scored)."""
    verdict = generation.verdict
    if verdict is None or verdict.unverifiable or generation.duplicate_of is not None:
        return False
    return verdict.correct or chains == "decided"


def chain_text(generation: Generation, limit: int) -> str:
    """The chain as the scorer reads it: reasoning then answer, cut to ``limit`` characters."""
    text = f"{generation.reasoning}\n\n{generation.answer_text}".strip() if generation.reasoning else generation.content
    return text if len(text) <= limit else text[:limit] + " […]"


def score_messages(problem: Problem, generation: Generation, modality: Modality, limit: int) -> list[dict]:
    """The rubric as the system turn; the problem, the reference answer and the chain as the user turn."""
    reference = f"{problem.answer} {problem.unit}".strip()
    task = f"Reference answer: {reference}\n\nResponse to score:\n{chain_text(generation, limit)}"
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": problem_content(problem, task, modality)}]


def score_plan(settings: ScorerSettings, attempt: int) -> SamplingPlan:
    """Sampling for one attempt (the token budget doubles per attempt)."""
    return attempt_plan(settings.max_tokens, settings.temperature, attempt, "chain_score")


def parse_score(content: str) -> ChainScore:
    """The score in ``content``; raises ValidationError when it is not valid JSON of the schema."""
    return ChainScore.model_validate_json(content.strip())


class ScoreFn(TeacherCallFn):
    """ProblemChains → the same, each chosen chain carrying its score and the scorer's model (or unscored)."""

    def __init__(self, settings: ScorerSettings, endpoint: Endpoint):
        super().__init__(SCORE.name, endpoint)
        self._settings = settings

    async def _score_one(self, problem: Problem, generation: Generation) -> Generation:
        s = self._settings
        prompt = Prompt(score_messages(problem, generation, self.endpoint.settings.modality, s.max_chain_chars), problem)
        for attempt in range(s.attempts):
            try:
                answer = await self.ask(prompt, score_plan(s, attempt), attempt, RESPONSE_FORMAT)
                scored = parse_score(answer.completion.content)
            except ValidationError:
                continue
            except TeacherError:
                break
            self.count(f"score_{scored.score}")
            return dataclasses.replace(generation, chain_score=float(scored.score), scorer=self.model,
                                       score_rationale=scored.rationale)
        self.count("unscored")
        return generation

    async def _score(self, chains: ProblemChains) -> ProblemChains:
        problem = chains.planned.problem
        scored = await asyncio.gather(*(
            self._score_one(problem, g) if wants_score(g, self._settings.chains) else as_is(g) for g in chains.generations))
        return dataclasses.replace(chains, generations=list(scored))

    def process(self, chains: ProblemChains):
        if not any(wants_score(g, self._settings.chains) for g in chains.generations):
            yield chains
            return
        yield from self.submit(self._score(chains), chains)


class ScoreChains(beam.PTransform):
    """Verified ProblemChains → the same, chosen chains scored 0–5 by the scorer model."""

    def __init__(self, settings: ScorerSettings, endpoint: Endpoint):
        super().__init__()
        self._fn = ScoreFn(settings, endpoint)

    def expand(self, chains):
        return chains | "Score" >> guarded(SCORE.name, beam.ParDo(self._fn))
