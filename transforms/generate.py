"""Generate stage: k chains per problem from a teacher, concurrently, through the response cache.

Each problem's missing samples become requests (run by :class:`TeacherCallFn`: at most
``max_in_flight`` in flight, a problem emitted as soon as its last sample finishes, not when a
batch does). Cached samples cost nothing. A problem with a sample that failed for good is dead-lettered with the reason
(its successful samples stay cached, so a rerun pays only for the failed one).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import apache_beam as beam

from schemas.generation import Generation, ProblemChains
from schemas.outputs import RejectRow
from schemas.plan import PlannedProblem, SamplingPlan
from transforms.failures import guarded
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Answer, Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import build_messages
from transforms.teachers.parse import split_reasoning
from transforms.teachers.registry import Endpoint

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0


def to_generation(planned: PlannedProblem, index: int, answer: Answer, model: str) -> Generation:
    """A Generation record from the teacher's answer."""
    completion = answer.completion
    reasoning, answer_text = split_reasoning(completion.content, completion.reasoning)
    return Generation(
        problem_id=planned.problem.id,
        teacher=model,
        sample_index=index,
        content=completion.content,
        reasoning=reasoning,
        answer_text=answer_text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=completion.latency_s,
        sampling=planned.plan,
        difficulty=planned.assessment.difficulty,
        cache_key=answer.key,
        cached=answer.cached,
        assessment=planned.assessment,
    )


def sample_indices(plan: SamplingPlan) -> range:
    """The sample numbers a plan asks for (they start after an earlier round's)."""
    return range(plan.first_sample, plan.first_sample + plan.n)


class _Progress:
    """Logs problems done of submitted, chains, new tokens, throughput, retries and failures every few seconds.

    A chain counts when its answer arrives (on the event loop's thread: at once from the cache, else
    when its request finishes) and a problem when it is emitted; so the figures move while long
    problems run.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.started: float | None = None
        self.last = time.monotonic()
        self.submitted = self.problems = self.chains = self.tokens = self.cached = 0

    def submit(self) -> None:
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()
            self.submitted += 1

    def sample(self, answer: Answer, retries: int, failed: int) -> None:
        with self._lock:
            self.chains += 1
            if answer.cached:
                self.cached += 1
            else:
                self.tokens += answer.completion.completion_tokens or 0
            self._maybe_log(retries, failed)

    def problem(self, retries: int, failed: int) -> None:
        with self._lock:
            self.problems += 1
            self._maybe_log(retries, failed)

    def _maybe_log(self, retries: int, failed: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = self.tokens / max(now - (self.started or now), 1e-9)
            log.info(
                "generate: %d/%d problems done, %d chains (%d from cache), %d new tokens, %.0f tok/s, "
                "%d retries, %d problems failed",
                self.problems, self.submitted, self.chains, self.cached, self.tokens, rate, retries, failed,
            )


class GenerateFn(TeacherCallFn):
    """PlannedProblem → ProblemChains (main) or a dead-letter row."""

    def __init__(self, endpoint: Endpoint):
        super().__init__("generate", endpoint)

    def setup(self):
        super().setup()
        self._progress = _Progress()

    async def _sample(self, planned: PlannedProblem, prompt: Prompt, index: int) -> Generation:
        answer = await self.ask(prompt, planned.plan, index)
        self._progress.sample(answer, self.teacher.retries, self.failed)
        return to_generation(planned, index, answer, self.model)

    async def _generate(self, planned: PlannedProblem):
        messages = build_messages(planned.problem, planned.plan.prompt_style, self.endpoint.settings.modality)
        prompt = Prompt(messages, planned.problem)  # images encoded once per problem, not per sample
        tasks = [self._sample(planned, prompt, i) for i in sample_indices(planned.plan)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = {i: r for i, r in zip(sample_indices(planned.plan), results) if isinstance(r, BaseException)}
        if failures:
            why = {i: (e.reason, e.detail) if isinstance(e, TeacherError) else ("internal_error", repr(e))
                   for i, e in failures.items()}
            (reason, detail), *_ = why.values()
            each = ", ".join(f"{i} {r}" for i, (r, _) in why.items())
            return RejectRow(
                row_id=planned.problem.id,
                source=planned.problem.source,
                stage="generate",
                reason=f"teacher_{reason}",
                detail=f"{len(failures)}/{planned.plan.n} samples failed (sample reason: {each}); first: {detail}",
            )
        return ProblemChains(planned=planned, generations=list(results))

    def process(self, planned: PlannedProblem):
        self._progress.submit()
        yield from self.submit(self._generate(planned), planned)

    def emit(self, result: ProblemChains) -> ProblemChains:
        self._progress.problem(self.teacher.retries, self.failed)
        return result


class GenerateChains(beam.PTransform):
    """PlannedProblems → ProblemChains (main) and dead letters for failed teacher calls."""

    def __init__(self, endpoint: Endpoint):
        super().__init__()
        self._fn = GenerateFn(endpoint)

    def expand(self, planned):
        return planned | "Generate" >> guarded("generate", beam.ParDo(self._fn).with_outputs(DEAD_LETTER, main="chains"))
