"""A DoFn base for stages that call a teacher: one ask path, concurrent calls on a private event loop.

Each DoFn instance runs an asyncio loop in a background thread. ``process`` of a subclass hands
one coroutine per element to :meth:`TeacherCallFn.submit` (a coroutine that raises becomes that
element's dead letter on ``failures.FAILED``, as a guarded ParDo's would); an element's output is emitted as
soon as its coroutine finishes, not when a batch does, and bundles end only when their work is
done. Inside the coroutine, :meth:`TeacherCallFn.ask` is the one way to the teacher: cache key →
cache → budget (a prompt over the model's context or image limit fails here, unsent) → call (at most
``max_in_flight`` at once) → reply gate → store. Every reply and every cache entry read
back passes the reply gate (``teachers/reply_gate.py``) before anything counts, caches or reads it: a reply it
refuses raises :class:`~transforms.teachers.base.TeacherError` with its reason, a cache entry it refuses is a
miss (``cache_rejected``), and out-of-range usage is unknown (``usage_out_of_range``, ``usage_missing``).
Only a stage that sets :attr:`TeacherCallFn.asks_logprobs` (generate) asks for the endpoint's
``logprobs``: the top count joins its cache key and its gate, and a payload the gate refuses is counted by
reason (``logprobs_missing``, ``logprobs_bad_mass`` …); other stages send and key their requests without them.

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
            super().__init__(SCORE.name, endpoint)   # the stage's row of schemas/stages.py

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
import queue
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
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
from transforms.teachers.budget import PromptBudget, image_side
from transforms.teachers.cache import ResponseCache, from_entry, group_key, request_key, to_entry
from transforms.teachers.messages import keyed_as_sent, sent_image_sizes, with_data_urls
from transforms.teachers.rate_limit import estimate_tokens, shared_limiter
from transforms.teachers.registry import Endpoint, create_teacher
from transforms.teachers.samples import MAYBE_REFUSED, note_refusal, refuses_n, request_groups, samples_per_request

LATENCY_BOUNDS_MS = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000, 120_000, 300_000)
LATENCY_BUCKET_PREFIX = "latency_ms_le_"
#: The most one report adds to a counter or a distribution: Beam's are C longs, and a value from a reply (already
#: bounded by the gate) must never make the bundle's thread raise outside per-element handling.
MAX_METRIC = 2**62
REPORT_EVERY_S = 0.5


def request_tokens(completions: list[Completion]) -> tuple[int, int] | None:
    """Prompt and completion tokens one request used (its prompt once); None when a count is unknown."""
    if not completions or any(c.prompt_tokens is None or c.completion_tokens is None for c in completions):
        return None
    return completions[0].prompt_tokens, sum(c.completion_tokens for c in completions)


def latency_bucket(ms: int) -> str:
    """The counter a request of ``ms`` milliseconds counts under (``latency_ms_le_<bound>``, ``…_le_inf``)."""
    bound = next((b for b in LATENCY_BOUNDS_MS if ms <= b), "inf")
    return f"{LATENCY_BUCKET_PREFIX}{bound}"


@dataclass
class Prompt:
    """Chat messages as they are keyed (images as ``mmcot-image:`` references) and the problem whose images they name."""

    messages: list[dict[str, Any]]
    problem: Problem | None = None
    _sent: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def _imageless(self) -> bool:
        """Whether no message can hold an image (no problem to read them from, or no message with typed parts): then
        the messages are sent and keyed as they are, with no pass over them."""
        return self.problem is None or all(isinstance(m["content"], str) for m in self.messages)

    def sent(self, max_side: int | None) -> list[dict[str, Any]]:
        """The messages as sent: image references replaced by data URLs, images scaled down to ``max_side``
        (encoded once per prompt)."""
        if self._imageless:
            return self.messages
        if max_side not in self._sent:
            self._sent[max_side] = with_data_urls(self.messages, self.problem, max_side)
        return self._sent[max_side]

    def image_sizes(self, max_side: int | None) -> list[tuple[int, int]]:
        """(width, height) of each image as sent, in order."""
        return [] if self._imageless else sent_image_sizes(self.messages, self.problem, max_side)

    def keyed(self, max_side: int | None) -> list[dict[str, Any]]:
        """The messages a cache key reads: an image scaled down to ``max_side`` is named with its size."""
        return self.messages if self._imageless else keyed_as_sent(self.messages, self.problem, max_side)


@dataclass(frozen=True)
class Answer:
    """The teacher's completion for one ask, its cache key, and whether it came from the cache."""

    completion: Completion
    key: str
    cached: bool


async def all_of(coroutines: list[Coroutine]) -> None:
    """Run ``coroutines`` concurrently (one is awaited as it is: a gather's tasks cost more than its request)."""
    if len(coroutines) == 1:
        await coroutines[0]
    elif coroutines:
        await asyncio.gather(*coroutines)


async def as_is(value: Any) -> Any:
    """``value`` as an awaitable: the element of a gather that needs no call."""
    return value


class TeacherCallFn(beam.DoFn):
    """Base DoFn: subclasses submit coroutines from ``process`` that :meth:`ask`; results are emitted via :meth:`emit`.

    A result that is a :class:`RejectRow` goes to the dead-letter output (counted by reason);
    anything else goes to the main output. ``asks_logprobs``: the stage's requests carry the endpoint's
    ``logprobs`` (when it has them).
    """

    asks_logprobs = False

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
        self._endpoint_id = (settings.backend, settings.base_url, settings.model)
        self._budget = PromptBudget(settings.limits)
        self._image_side = image_side(settings.image_max_side, settings.limits.processor_path)
        self._reported_retries = 0
        self._reported_at = 0.0
        self.failed = 0
        self._tally_lock = threading.Lock()
        self._tally: collections.Counter[str] = collections.Counter()
        self._latencies: list[int] = []

    @property
    def logprobs_top(self) -> int | None:
        """How many alternatives per token this stage's requests ask for (None: no log probabilities)."""
        logprobs = self.endpoint.settings.logprobs
        return logprobs.top if self.asks_logprobs and logprobs is not None else None

    async def _make_teacher(self) -> Teacher:
        settings = self.endpoint.settings
        self._sem = asyncio.Semaphore(settings.max_in_flight)
        if self.logprobs_top is None and settings.logprobs is not None:
            settings = settings.model_copy(update={"logprobs": None})
        return create_teacher(settings)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def key(self, prompt: Prompt, plan: SamplingPlan, sample: int, response_format: dict[str, Any] | None) -> str:
        """The cache key of one ask."""
        return request_key(self.model, prompt.keyed(self._image_side), plan, sample, response_format,
                           self.endpoint.settings.request_seed(sample), self.logprobs_top)

    async def ask(self, prompt: Prompt, plan: SamplingPlan, sample: int = 0,
                  response_format: dict[str, Any] | None = None) -> Answer:
        """Sample number ``sample`` of ``prompt`` under ``plan``: from the cache, else from the teacher (then cached).

        ``response_format`` constrains the output (an OpenAI ``response_format``, e.g. a JSON
        schema). Raises :class:`~transforms.teachers.base.TeacherError` when the call fails for good, or,
        with no request made, when the prompt is over the model's limits (:mod:`transforms.teachers.budget`).
        """
        (answer,) = await self.ask_samples(prompt, plan, [sample], response_format)
        if isinstance(answer, TeacherError):
            raise answer
        return answer

    async def ask_samples(self, prompt: Prompt, plan: SamplingPlan, samples: list[int],
                          response_format: dict[str, Any] | None = None) -> list[Answer | TeacherError]:
        """Samples ``samples`` of ``prompt`` under ``plan``, each from the cache, else from the teacher: the missing ones
        in as few requests as the backend takes (:mod:`transforms.teachers.samples`), each stored under its own key
        as soon as its request returns. One entry per sample, in order: its Answer, or the TeacherError that failed it
        for good."""
        keys = {sample: self.key(prompt, plan, sample, response_format) for sample in samples}
        group = (group_key(self.model, prompt.keyed(self._image_side), plan, response_format, self.logprobs_top)
                 if self.cache.layout == "problem" else None)
        entries = await self._cache_io(self.cache.get_many, list(keys.values()), group)
        answers: dict[int, Answer | TeacherError] = {}
        for (sample, key), entry in zip(keys.items(), entries):
            completion = None if entry is None else self._cached(entry)
            if completion is not None:
                answers[sample] = Answer(completion, key, cached=True)
        self.count("cache_hits", len(answers))
        self.count("cache_misses", len(keys) - len(answers))
        if answers:
            self._count_cached([a.completion for a in answers.values()], len(self._requests_for(sorted(answers), plan)))
        missing = sorted(s for s in keys if s not in answers)
        if not missing:
            return [answers[sample] for sample in samples]
        try:  # before any request
            self._budget.check(prompt.messages, prompt.image_sizes(self._image_side), plan.max_tokens)
        except TeacherError as exc:
            self.count(f"refused_{exc.reason}")
            answers.update(dict.fromkeys(missing, exc))
            return [answers[sample] for sample in samples]
        await all_of([self._fetch(prompt, plan, response_format, run, keys, group, answers)
                      for run in self._requests_for(missing, plan)])
        return [answers[sample] for sample in samples]

    def _requests_for(self, samples: list[int], plan: SamplingPlan) -> list[list[int]]:
        """``samples`` of ``plan`` as this endpoint's requests would take them."""
        settings = self.endpoint.settings
        per_request = 1 if refuses_n(self._endpoint_id) else samples_per_request(plan, self.teacher.max_n)
        return request_groups(samples, per_request, settings.send_seed)

    async def _fetch(self, prompt: Prompt, plan: SamplingPlan, response_format: dict[str, Any] | None,
                     run: list[int], keys: dict[int, str], group: str | None,
                     answers: dict[int, Answer | TeacherError]) -> None:
        """Ask the teacher for the samples ``run`` in one request and store what comes back; a server that refuses
        several samples in one request (see :mod:`transforms.teachers.samples`) gets the rest one by one."""
        try:
            replies = await self._send(prompt.sent(self._image_side), plan, response_format, run[0], len(run))
        except TeacherError as exc:
            if len(run) == 1 or exc.reason not in MAYBE_REFUSED:
                answers.update(dict.fromkeys(run, exc))
                return
            try:  # the same prompt for one sample: if it goes through, the server refused n
                replies = await self._send(prompt.sent(self._image_side), plan, response_format, run[0], 1)
            except TeacherError as alone:
                answers.update(dict.fromkeys(run, exc))
                answers[run[0]] = alone
                return
            note_refusal(self._endpoint_id, f"{exc.reason}: {exc.detail[:200]}")
        replies = replies[:len(run)]
        stored = {}
        for sample, reply in zip(run, replies):
            if isinstance(reply, TeacherError):
                answers[sample] = reply
            else:
                answers[sample] = Answer(reply, keys[sample], cached=False)
                stored[keys[sample]] = to_entry(reply)
        if stored:
            await self._cache_io(self.cache.put_many, stored, group)
        rest = run[len(replies):]
        if rest:
            note_refusal(self._endpoint_id, f"asked for {len(run)} samples, the reply held {len(replies)}")
            await all_of([self._fetch(prompt, plan, response_format, [sample], keys, group, answers) for sample in rest])

    async def _cache_io(self, call, *args):
        """A cache read or write: on local disk right here (a few file calls cost less than handing them to a
        thread), elsewhere in a thread, off the event loop."""
        if self.cache.local:
            return call(*args)
        return await asyncio.to_thread(call, *args)

    def _gated(self, completion: Completion) -> Completion:
        """``completion`` through the reply gate (its repairs counted); raises TeacherError for a reply no stage can use."""
        gated = reply_gate.checked(completion, self.logprobs_top)
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

    def _refused(self, exc: TeacherError) -> TeacherError:
        """``exc``, counted as ``replies_refused`` when the gate refused a reply (in the backend's body parsing or
        here)."""
        if exc.reason in reply_gate.REASONS:
            self.count("replies_refused")
        return exc

    async def _reply(self, messages: list[dict[str, Any]], plan: SamplingPlan, response_format: dict[str, Any] | None,
                     sample: int, n: int) -> list[Completion | TeacherError]:
        """The backend's samples, each through the gate (a sample it refuses becomes its TeacherError)."""
        try:
            replies = await self.teacher.complete(messages, plan, response_format, sample, n)
        except TeacherError as exc:
            raise self._refused(exc) from None
        out: list[Completion | TeacherError] = []
        for reply in replies:
            try:
                out.append(self._gated(reply) if isinstance(reply, Completion) else self._refused(reply))
            except TeacherError as exc:
                out.append(self._refused(exc))
        return out

    async def _send(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                    response_format: dict[str, Any] | None, sample: int, n: int) -> list[Completion | TeacherError]:
        """The one place a request leaves this DoFn, under the in-flight bound and the endpoint's rate limit."""
        async with self._sem:
            started = time.monotonic()
            if self._limiter is None:
                replies = await self._reply(messages, plan, response_format, sample, n)
            else:
                estimate = estimate_tokens(messages, n * plan.max_tokens, self._limiter.settings)
                waited = await self._limiter.acquire(estimate)
                if waited:
                    self.count("rate_limited")
                    self.count("rate_limit_wait_ms", int(waited * 1000))
                started = time.monotonic()
                replies = await self._reply(messages, plan, response_format, sample, n)
                used = request_tokens([r for r in replies if isinstance(r, Completion)])
                if used is not None:
                    self._limiter.correct(estimate, sum(used))
        ms = int((time.monotonic() - started) * 1000)
        with self._tally_lock:
            self._tally.update(requests=1)
            self._tally[latency_bucket(ms)] += 1
            self._latencies.append(ms)
        self._count_paid([r for r in replies if isinstance(r, Completion)])
        return replies

    def _count_paid(self, completions: list[Completion]) -> None:
        """Tokens of one request (``tokens_in``/``tokens_out``, ``cost_pusd``): its prompt once, every sample's
        completion."""
        self._count_tokens(completions, 1, ("tokens_in", "tokens_out", "cost_pusd"))

    def _count_cached(self, completions: list[Completion], requests: int) -> None:
        """What cache hits saved (``cached_tokens_in``/``cached_tokens_out``, ``cache_saved_pusd``): the prompt once
        per request the samples would have taken, every sample's completion."""
        self._count_tokens(completions, requests, ("cached_tokens_in", "cached_tokens_out", "cache_saved_pusd"))

    def _count_tokens(self, completions: list[Completion], prompts: int, names: tuple[str, str, str]) -> None:
        if not completions:
            return
        tokens_in = prompts * (completions[0].prompt_tokens or 0)  # unknown counts add 0
        tokens_out = sum(c.completion_tokens or 0 for c in completions)
        price = self.endpoint.settings.price
        with self._tally_lock:
            self._tally.update({names[0]: tokens_in, names[1]: tokens_out})
            if price is not None:
                self._tally[names[2]] += price.picodollars(tokens_in, tokens_out)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the stage's counter ``name`` (from any thread)."""
        with self._tally_lock:
            self._tally[name] += n

    def _report(self, now: bool = False) -> None:
        """Hand what the event loop counted on to Beam (on the bundle's thread): every ``REPORT_EVERY_S`` while a
        bundle runs (each report is a few dozen metric updates), and with ``now`` at its end."""
        if not now and time.monotonic() - self._reported_at < REPORT_EVERY_S:
            return
        self._reported_at = time.monotonic()
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
        self._pending = 0  # submitted, not yet collected
        self._finished: queue.SimpleQueue[concurrent.futures.Future] = queue.SimpleQueue()

    def submit(self, coro: Coroutine, element: Any) -> Iterator:
        """Schedule ``coro`` (the work for ``element``); yields the outputs of whatever has finished (blocks while too much is queued)."""
        self.count("in")
        asyncio.run_coroutine_threadsafe(settle(coro, element), self._loop).add_done_callback(self._finished.put)
        self._pending += 1
        while self._pending >= 2 * self.endpoint.settings.max_in_flight:
            yield from self._collect(wait=True)
        yield from self._collect(wait=False)

    def emit(self, result: Any) -> Any:
        """The main output for a finished result (override to post-process)."""
        return result

    def _done(self, wait: bool) -> Iterator[concurrent.futures.Future]:
        """Futures as they finished (their callbacks fill a queue, so nothing scans what is in flight per element:
        at a thousand in flight that scan was most of the stage's CPU); with ``wait``, the first is waited for."""
        while self._pending:
            try:
                future = self._finished.get(block=wait)
            except queue.Empty:
                return
            wait = False
            self._pending -= 1
            yield future

    def _collect(self, wait: bool) -> Iterator:
        """Outputs of finished futures; with ``wait``, first block until at least one finishes."""
        for future in self._done(wait):
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
        self._report(now=True)

    def teardown(self):
        if getattr(self, "_loop", None) is None:
            return
        self._run(self.teacher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
