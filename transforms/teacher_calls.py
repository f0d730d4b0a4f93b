"""A DoFn base for stages that call a teacher: one ask path, concurrent calls on a private event loop.

Each DoFn instance runs an asyncio loop in a background thread. ``process`` of a subclass hands
one coroutine per element to :meth:`TeacherCallFn.submit` (a coroutine that raises becomes that
element's dead letter on ``failures.FAILED``, as a guarded ParDo's would); an element's output is emitted as
soon as its coroutine finishes, not when a batch does, and bundles end only when their work is
done. Inside the coroutine, :meth:`TeacherCallFn.ask` is the one way to the teacher: cache key →
cache → call (at most ``max_in_flight`` at once) → reply gate → store. Every reply and every cache entry read
back passes the reply gate (``teachers/reply_gate.py``) before anything counts, caches or reads it: a reply it
refuses raises :class:`~transforms.teachers.base.TeacherError` with its reason, a cache entry it refuses is a
miss (``cache_rejected``), and out-of-range usage is unknown (``usage_out_of_range``, ``usage_missing``).

Elements in and out, requests, retries, cache hits and misses, tokens, failures by reason and
request latency (a distribution, plus counters per :data:`LATENCY_BOUNDS_MS` bucket for
quantiles: Beam's histogram metric is not returned by the FnApiRunner's metric query) go to Beam
metrics under the stage's namespace. Beam records a metric only on the thread running the
bundle, so code on the event loop counts with :meth:`TeacherCallFn.count`, which the bundle's
thread hands on to Beam as results are collected. An endpoint with a ``rate_limit`` has its calls wait
for the process's shared limiter (``rate_limit_wait_ms``, ``rate_limited``); one with a ``price``
counts its new calls' cost and what its cache hits saved, in picodollars (``cost_pusd``,
``cache_saved_pusd``; cache hits' tokens are ``cached_tokens_in``/``cached_tokens_out``).

A new teacher-call stage is a prompt and a parse on top of it::

    class ScoreFn(TeacherCallFn):
        def __init__(self, endpoint: Endpoint):
            super().__init__("score", endpoint)

        async def _score(self, chains: ProblemChains) -> ProblemChains:
            answer = await self.ask(Prompt(score_messages(chains), chains.planned.problem), SCORE_PLAN,
                                    response_format=SCORE_FORMAT)   # raises TeacherError when it fails for good
            return with_score(chains, parse_score(answer.completion.content))

        def process(self, chains: ProblemChains):
            yield from self.submit(self._score(chains), chains)   # a RejectRow result goes to the dead letters
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.outputs import RejectRow
from schemas.plan import SamplingPlan
from schemas.problem import Problem
from transforms.failures import FAILED, Caught, settle
from transforms.tags import DEAD_LETTER
from transforms.teachers import reply_gate
from transforms.teachers.base import Completion, Teacher, TeacherError
from transforms.teachers.cache import ResponseCache, from_entry, group_key, request_key, to_entry
from transforms.teachers.messages import with_data_urls
from transforms.teachers.rate_limit import estimate_tokens, shared_limiter
from transforms.teachers.registry import Endpoint, create_teacher

LATENCY_BOUNDS_MS = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000, 120_000, 300_000)
LATENCY_BUCKET_PREFIX = "latency_ms_le_"
#: The most one report adds to a counter or a distribution: Beam's are C longs, and a value from a reply (already
#: bounded by the gate) must never make the bundle's thread raise outside per-element handling.
MAX_METRIC = 2**62


def latency_bucket(ms: int) -> str:
    """The counter a request of ``ms`` milliseconds counts under (``latency_ms_le_<bound>``, ``…_le_inf``)."""
    bound = next((b for b in LATENCY_BOUNDS_MS if ms <= b), "inf")
    return f"{LATENCY_BUCKET_PREFIX}{bound}"


@dataclass
class Prompt:
    """Chat messages as they are keyed (images as ``mmcot-image:`` references) and the problem whose images they name."""

    messages: list[dict[str, Any]]
    problem: Problem | None = None

    @functools.cached_property
    def sent(self) -> list[dict[str, Any]]:
        """The messages as sent: image references replaced by data URLs (encoded once per prompt)."""
        return self.messages if self.problem is None else with_data_urls(self.messages, self.problem)


@dataclass(frozen=True)
class Answer:
    """The teacher's completion for one ask, its cache key, and whether it came from the cache."""

    completion: Completion
    key: str
    cached: bool


async def as_is(value: Any) -> Any:
    """``value`` as an awaitable: the element of a gather that needs no call."""
    return value


class TeacherCallFn(beam.DoFn):
    """Base DoFn: subclasses submit coroutines from ``process`` that :meth:`ask`; results are emitted via :meth:`emit`.

    A result that is a :class:`RejectRow` goes to the dead-letter output (counted by reason);
    anything else goes to the main output.
    """

    def __init__(self, namespace: str, endpoint: Endpoint):
        self._namespace = namespace
        self.endpoint = endpoint
        self._latency = Metrics.distribution(namespace, "latency_ms")

    @property
    def model(self) -> str:
        """The teacher model's name (recorded with every result, part of every cache key)."""
        return self.endpoint.settings.model

    def setup(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"mmcot-{self._namespace}", daemon=True)
        self._thread.start()
        self.teacher = self._run(self._make_teacher())
        settings = self.endpoint.settings
        self.cache = ResponseCache(self.endpoint.cache_url, settings.cache_layout)
        self._limiter = shared_limiter(settings.backend, settings.base_url, settings.model, settings.rate_limit)
        self._reported_retries = 0
        self.failed = 0
        self._tally_lock = threading.Lock()
        self._tally: collections.Counter[str] = collections.Counter()
        self._latencies: list[int] = []

    async def _make_teacher(self) -> Teacher:
        self._sem = asyncio.Semaphore(self.endpoint.settings.max_in_flight)
        return create_teacher(self.endpoint.settings)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def key(self, prompt: Prompt, plan: SamplingPlan, sample: int, response_format: dict[str, Any] | None) -> str:
        """The cache key of one ask."""
        return request_key(self.model, prompt.messages, plan, sample, response_format,
                           self.endpoint.settings.request_seed(sample))

    async def ask(self, prompt: Prompt, plan: SamplingPlan, sample: int = 0,
                  response_format: dict[str, Any] | None = None) -> Answer:
        """Sample number ``sample`` of ``prompt`` under ``plan``: from the cache, else from the teacher (then cached).

        ``response_format`` constrains the output (an OpenAI ``response_format``, e.g. a JSON
        schema). Raises :class:`~transforms.teachers.base.TeacherError` when the call fails for good.
        """
        key = self.key(prompt, plan, sample, response_format)
        group = group_key(self.model, prompt.messages, plan, response_format) if self.cache.layout == "problem" else None
        entry = await asyncio.to_thread(self.cache.get, key, group)
        completion = None if entry is None else self._cached(entry)
        self.count("cache_misses" if completion is None else "cache_hits")
        if completion is not None:
            self._count_tokens(completion, cached=True)
            return Answer(completion, key, cached=True)
        completion = await self._send(prompt.sent, plan, response_format, sample)
        await asyncio.to_thread(self.cache.put, key, to_entry(completion), group)
        return Answer(completion, key, cached=False)

    def _gated(self, completion: Completion) -> Completion:
        """``completion`` through the reply gate (its repairs counted); raises TeacherError for a reply no stage can use."""
        gated = reply_gate.checked(completion)
        for note in gated.notes:
            self.count(note)
        return gated.completion

    def _cached(self, entry: Any) -> Completion | None:
        """A cache entry read back, through the gate like a reply; one it refuses is a miss (``cache_rejected``)."""
        completion = from_entry(entry)
        if completion is not None:
            try:
                return self._gated(completion)
            except TeacherError:
                pass
        self.count("cache_rejected")
        return None

    async def _reply(self, messages: list[dict[str, Any]], plan: SamplingPlan, response_format: dict[str, Any] | None,
                     sample: int) -> Completion:
        """The backend's completion through the gate; a reply the gate (in the backend's body parsing or here) refuses
        is counted as ``replies_refused`` before its TeacherError goes on."""
        try:
            return self._gated(await self.teacher.complete(messages, plan, response_format, sample))
        except TeacherError as exc:
            if exc.reason in reply_gate.REASONS:
                self.count("replies_refused")
            raise

    async def _send(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                    response_format: dict[str, Any] | None, sample: int) -> Completion:
        """The one place a request leaves this DoFn, under the in-flight bound and the endpoint's rate limit."""
        async with self._sem:
            if self._limiter is None:
                completion = await self._reply(messages, plan, response_format, sample)
            else:
                estimate = estimate_tokens(messages, plan.max_tokens, self._limiter.settings)
                waited = await self._limiter.acquire(estimate)
                if waited:
                    self.count("rate_limited")
                    self.count("rate_limit_wait_ms", int(waited * 1000))
                completion = await self._reply(messages, plan, response_format, sample)
                if completion.prompt_tokens is not None and completion.completion_tokens is not None:
                    self._limiter.correct(estimate, completion.prompt_tokens + completion.completion_tokens)
        ms = int(completion.latency_s * 1000)
        with self._tally_lock:
            self._tally.update(requests=1)
            self._tally[latency_bucket(ms)] += 1
            self._latencies.append(ms)
        self._count_tokens(completion, cached=False)
        return completion

    def _count_tokens(self, completion: Completion, cached: bool) -> None:
        """Tokens of a new call (``tokens_in``/``tokens_out``, ``cost_pusd``) or of a cache hit (what it saved)."""
        tokens_in, tokens_out = completion.prompt_tokens or 0, completion.completion_tokens or 0  # unknown counts add 0
        names = (("cached_tokens_in", "cached_tokens_out", "cache_saved_pusd") if cached
                 else ("tokens_in", "tokens_out", "cost_pusd"))
        price = self.endpoint.settings.price
        with self._tally_lock:
            self._tally.update({names[0]: tokens_in, names[1]: tokens_out})
            if price is not None:
                self._tally[names[2]] += price.picodollars(tokens_in, tokens_out)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the stage's counter ``name`` (from any thread)."""
        with self._tally_lock:
            self._tally[name] += n

    def _report(self) -> None:
        """Hand what the event loop counted on to Beam (on the bundle's thread)."""
        with self._tally_lock:
            tally, self._tally = self._tally, collections.Counter()
            latencies, self._latencies = self._latencies, []
        retries = self.teacher.retries
        tally["retries"] += retries - self._reported_retries
        self._reported_retries = retries
        for name, n in tally.items():
            if n:
                Metrics.counter(self._namespace, name).inc(min(n, MAX_METRIC))
        for ms in latencies:
            self._latency.update(min(ms, MAX_METRIC))

    def start_bundle(self):
        self._pending: set[concurrent.futures.Future] = set()

    def submit(self, coro: Coroutine, element: Any) -> Iterator:
        """Schedule ``coro`` (the work for ``element``); yields the outputs of whatever has finished (blocks while too much is queued)."""
        self.count("in")
        self._pending.add(asyncio.run_coroutine_threadsafe(settle(coro, element), self._loop))
        while len(self._pending) >= 2 * self.endpoint.settings.max_in_flight:
            yield from self._collect(wait=True)
        yield from self._collect(wait=False)

    def emit(self, result: Any) -> Any:
        """The main output for a finished result (override to post-process)."""
        return result

    def _collect(self, wait: bool) -> Iterator:
        """Outputs of finished futures; with ``wait``, first block until at least one finishes."""
        if wait and self._pending:
            concurrent.futures.wait(self._pending, return_when=concurrent.futures.FIRST_COMPLETED)
        done = {f for f in self._pending if f.done()}
        self._pending -= done
        for future in done:
            result = future.result()
            if isinstance(result, Caught):
                yield beam.pvalue.TaggedOutput(FAILED, result.dead_letter())
            elif isinstance(result, RejectRow):
                self.failed += 1
                self.count("failed")
                self.count(f"failed_{result.reason}")
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, result)
            else:
                self.count("out")
                yield self.emit(result)
        self._report()

    def finish_bundle(self):
        while self._pending:
            for out in self._collect(wait=True):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
                else:
                    yield GlobalWindows.windowed_value(out)
        self._report()

    def teardown(self):
        if getattr(self, "_loop", None) is None:
            return
        self._run(self.teacher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
