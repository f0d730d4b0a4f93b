"""Generate stage: k chains per problem from a teacher, concurrently, through the response cache.

``GenerateChains`` runs an asyncio loop in a background thread per DoFn instance. Each problem's
missing samples become requests; at most ``max_in_flight`` requests are in flight at once, and a
problem is emitted as soon as its last sample finishes, not when a batch does. Cached samples
cost nothing. A problem with a sample that failed for good is dead-lettered with the reason
(its successful samples stay cached, so a rerun pays only for the failed one).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.generation import Generation, ProblemChains
from schemas.outputs import RejectRow
from schemas.plan import PlannedProblem
from transforms.tags import DEAD_LETTER
from transforms.teachers.base import Completion, Teacher, TeacherError, sampling_fields
from transforms.teachers.cache import ResponseCache, cache_key
from transforms.teachers.messages import build_messages, with_data_urls
from transforms.teachers.openai_http import OpenAIChatTeacher, TeacherSettings
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


class _Progress:
    """Logs problems done of submitted, chains, tokens and throughput every few seconds."""

    def __init__(self):
        self.started: float | None = None
        self.last = time.monotonic()
        self.submitted = self.problems = self.chains = self.tokens = self.cached = 0

    def submit(self) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.submitted += 1

    def add(self, chains: ProblemChains) -> None:
        self.problems += 1
        self.chains += len(chains.generations)
        self.tokens += sum(g.completion_tokens for g in chains.generations if not g.cached)
        self.cached += sum(1 for g in chains.generations if g.cached)
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = self.tokens / max(now - (self.started or now), 1e-9)
            log.info(
                "generate: %d/%d problems done, %d chains (%d from cache), %d new tokens, %.0f tok/s",
                self.problems, self.submitted, self.chains, self.cached, self.tokens, rate,
            )


class GenerateFn(beam.DoFn):
    """PlannedProblem → ProblemChains (main) or a dead-letter row."""

    def __init__(self, settings: TeacherSettings, base_url: str, cache_url: str):
        self._settings = settings
        self._base_url = base_url
        self._cache_url = cache_url
        self._counters = {
            name: Metrics.counter("generate", name)
            for name in ("requests", "retries", "cache_hits", "cache_misses", "tokens_in", "tokens_out", "failed")
        }
        self._latency = Metrics.distribution("generate", "latency_ms")

    def setup(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mmcot-teacher", daemon=True)
        self._thread.start()
        self._teacher = self._run(self._make_teacher())
        self._cache = ResponseCache(self._cache_url)
        self._reported_retries = 0
        self._progress = _Progress()

    async def _make_teacher(self) -> Teacher:
        self._sem = asyncio.Semaphore(self._settings.max_in_flight)
        return OpenAIChatTeacher(self._settings, self._base_url)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def start_bundle(self):
        self._pending: set[concurrent.futures.Future] = set()

    async def _sample(self, planned: PlannedProblem, messages, index: int, key: str) -> Generation:
        async with self._sem:
            completion = await self._teacher.complete(messages, planned.plan)
        await asyncio.to_thread(self._cache.put, key, completion.__dict__)
        return to_generation(planned, index, key, completion, self._teacher.model, cached=False)

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
        fresh = {g.sample_index: g for g in results}
        return ProblemChains(planned=planned, generations=[{**cached, **fresh}[i] for i in range(planned.plan.n)])

    def _lookup(self, planned: PlannedProblem):
        messages = build_messages(planned.problem, planned.plan.prompt_style, self._settings.modality)
        sampling = sampling_fields(planned.plan)
        cached, missing = {}, {}
        for index in range(planned.plan.n):
            key = cache_key(self._teacher.model, messages, sampling, index)
            entry = self._cache.get(key)
            if entry is None:
                missing[index] = key
            else:
                completion = Completion(**entry)
                cached[index] = to_generation(planned, index, key, completion, self._teacher.model, cached=True)
        return messages, cached, missing

    def process(self, planned: PlannedProblem):
        messages, cached, missing = self._lookup(planned)
        self._counters["cache_hits"].inc(len(cached))
        self._counters["cache_misses"].inc(len(missing))
        self._pending.add(asyncio.run_coroutine_threadsafe(self._generate(planned, cached, missing, messages), self._loop))
        self._progress.submit()
        limit = 2 * self._settings.max_in_flight
        while len(self._pending) >= limit:
            yield from self._collect(wait=True)
        yield from self._collect(wait=False)

    def _collect(self, wait: bool):
        """Outputs of finished futures; with ``wait``, first block until at least one finishes."""
        if wait and self._pending:
            concurrent.futures.wait(self._pending, return_when=concurrent.futures.FIRST_COMPLETED)
        done = {f for f in self._pending if f.done()}
        self._pending -= done
        for future in done:
            yield self._emit(future.result())
        self._report_retries()

    def _emit(self, result):
        if isinstance(result, RejectRow):
            self._counters["failed"].inc()
            return beam.pvalue.TaggedOutput(DEAD_LETTER, result)
        fresh = [g for g in result.generations if not g.cached]
        self._counters["requests"].inc(len(fresh))
        self._counters["tokens_in"].inc(sum(g.prompt_tokens for g in fresh))
        self._counters["tokens_out"].inc(sum(g.completion_tokens for g in fresh))
        for g in fresh:
            self._latency.update(int(g.latency_s * 1000))
        self._progress.add(result)
        return result

    def _report_retries(self):
        delta = self._teacher.retries - self._reported_retries
        if delta:
            self._counters["retries"].inc(delta)
            self._reported_retries += delta

    def finish_bundle(self):
        while self._pending:
            for out in self._collect(wait=True):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
                else:
                    yield GlobalWindows.windowed_value(out)

    def teardown(self):
        if getattr(self, "_loop", None) is None:
            return
        self._run(self._teacher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class GenerateChains(beam.PTransform):
    """PlannedProblems → ProblemChains (main) and dead letters for failed teacher calls."""

    def __init__(self, settings: TeacherSettings, base_url: str, cache_url: str):
        super().__init__()
        self._fn = GenerateFn(settings, base_url, cache_url)

    def expand(self, planned):
        return planned | "Generate" >> beam.ParDo(self._fn).with_outputs(DEAD_LETTER, main="chains")
