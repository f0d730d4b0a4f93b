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
from transforms.teacher_calls import TeacherCallFn
from transforms.teachers.base import Completion, TeacherError, sampling_fields
from transforms.teachers.cache import cache_key
from transforms.teachers.messages import build_messages, with_data_urls
from transforms.teachers.settings import TeacherSettings
from transforms.teachers.parse import split_reasoning

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0


def to_generation(planned: PlannedProblem, index: int, key: str, completion: Completion, model: str, cached: bool) -> Generation:
    """A Generation record from a completion."""
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
        cache_key=key,
        cached=cached,
    )


def sample_indices(plan: SamplingPlan) -> range:
    """The sample numbers a plan asks for (they start after an earlier round's)."""
    return range(plan.first_sample, plan.first_sample + plan.n)


class _Progress:
    """Logs problems done of submitted, chains, new tokens, throughput, retries and failures every few seconds.

    A new chain counts when its request finishes (on the event loop's thread), a cached one when its
    problem is submitted, and a problem when it is emitted; so the figures move while long problems run.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.started: float | None = None
        self.last = time.monotonic()
        self.submitted = self.problems = self.chains = self.tokens = self.cached = 0

    def submit(self, cached: int) -> None:
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()
            self.submitted += 1
            self.chains += cached
            self.cached += cached

    def sample(self, tokens: int, retries: int, failed: int) -> None:
        with self._lock:
            self.chains += 1
            self.tokens += tokens
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

    def __init__(self, settings: TeacherSettings, base_url: str | None, cache_url: str):
        super().__init__("generate", settings, base_url, cache_url)
        self._modality = settings.modality

    def setup(self):
        super().setup()
        self._progress = _Progress()

    async def _sample(self, planned: PlannedProblem, messages, index: int, key: str) -> Generation:
        completion = await self.call(messages, planned.plan, key)
        self._progress.sample(completion.completion_tokens, self.teacher.retries, self.failed)
        return to_generation(planned, index, key, completion, self.teacher.model, cached=False)

    async def _generate(self, planned: PlannedProblem, cached: dict[int, Generation], missing: dict[int, str], messages):
        sent = with_data_urls(messages, planned.problem)  # images encoded once per problem, not per sample
        tasks = [self._sample(planned, sent, i, key) for i, key in missing.items()]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            first = failures[0]
            reason, detail = (first.reason, first.detail) if isinstance(first, TeacherError) else ("internal_error", repr(first))
            return RejectRow(
                row_id=planned.problem.id,
                source=planned.problem.source,
                stage="generate",
                reason=f"teacher_{reason}",
                detail=f"{len(failures)}/{planned.plan.n} samples failed; first: {detail}",
            )
        by_index = {**cached, **{g.sample_index: g for g in results}}
        return ProblemChains(planned=planned, generations=[by_index[i] for i in sample_indices(planned.plan)])

    def process(self, planned: PlannedProblem):
        messages = build_messages(planned.problem, planned.plan.prompt_style, self._modality)
        sampling = sampling_fields(planned.plan)
        cached, missing = {}, {}
        for index in sample_indices(planned.plan):
            key = cache_key(self.teacher.model, messages, sampling, index)
            completion = self.cached(key)
            if completion is None:
                missing[index] = key
            else:
                cached[index] = to_generation(planned, index, key, completion, self.teacher.model, cached=True)
        self._progress.submit(len(cached))
        yield from self.submit(self._generate(planned, cached, missing, messages), planned)

    def emit(self, result: ProblemChains) -> ProblemChains:
        self._progress.problem(self.teacher.retries, self.failed)
        return result


class GenerateChains(beam.PTransform):
    """PlannedProblems → ProblemChains (main) and dead letters for failed teacher calls."""

    def __init__(self, settings: TeacherSettings, base_url: str | None, cache_url: str):
        super().__init__()
        self._fn = GenerateFn(settings, base_url, cache_url)

    def expand(self, planned):
        return planned | "Generate" >> guarded("generate", beam.ParDo(self._fn).with_outputs(DEAD_LETTER, main="chains"))
