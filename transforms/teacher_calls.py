"""A DoFn base for stages that call a teacher: concurrent calls on a private event loop.

Each DoFn instance runs an asyncio loop in a background thread. ``process`` of a subclass hands
one coroutine per element to :meth:`TeacherCallFn.submit` (a coroutine that raises becomes that element's
dead letter on ``failures.FAILED``, as a guarded ParDo's would); at most ``max_in_flight`` teacher
calls run at once (:meth:`TeacherCallFn.call`), and an element's output is emitted as soon as its
coroutine finishes, not when a batch does. Bundles end only when their work is done. Retries,
requests, tokens, latency and failures by reason go to Beam counters under the stage's namespace.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.outputs import RejectRow
from schemas.plan import SamplingPlan
from transforms.failures import FAILED, Caught, settle
from transforms.tags import DEAD_LETTER
from transforms.teachers.base import Completion, Teacher
from transforms.teachers.cache import ResponseCache
from transforms.teachers.openai_http import OpenAIChatTeacher
from transforms.teachers.settings import TeacherSettings

COUNTERS = ("requests", "retries", "cache_hits", "cache_misses", "tokens_in", "tokens_out", "failed")


def make_teacher(settings: TeacherSettings, base_url: str | None) -> Teacher:
    """The backend the settings name (``base_url`` is the server's, unused by the in-process engine)."""
    if settings.backend == "vllm":
        from transforms.teachers.vllm_engine import VllmEngineTeacher  # imports vllm: only where it runs

        return VllmEngineTeacher(settings)
    if base_url is None:
        raise ValueError("teacher.backend openai needs a base_url")
    return OpenAIChatTeacher(settings, base_url)


class TeacherCallFn(beam.DoFn):
    """Base DoFn: subclasses submit coroutines from ``process`` and turn results into outputs in ``emit``.

    A result that is a :class:`RejectRow` goes to the dead-letter output (counted by reason);
    anything else goes to the main output.
    """

    def __init__(self, namespace: str, settings: TeacherSettings, base_url: str | None, cache_url: str):
        self._namespace = namespace
        self._settings = settings
        self._base_url = base_url
        self._cache_url = cache_url
        self.counters = {name: Metrics.counter(namespace, name) for name in COUNTERS}
        self._latency = Metrics.distribution(namespace, "latency_ms")

    def setup(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"mmcot-{self._namespace}", daemon=True)
        self._thread.start()
        self.teacher = self._run(self._make_teacher())
        self.cache = ResponseCache(self._cache_url)
        self._reported_retries = 0
        self.failed = 0

    async def _make_teacher(self) -> Teacher:
        self._sem = asyncio.Semaphore(self._settings.max_in_flight)
        return make_teacher(self._settings, self._base_url)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def call(self, messages: list[dict[str, Any]], plan: SamplingPlan, key: str,
                   response_format: dict[str, Any] | None = None) -> Completion:
        """One teacher call under the in-flight bound; the completion is cached under ``key``."""
        async with self._sem:
            completion = await self.teacher.complete(messages, plan, response_format)
        await asyncio.to_thread(self.cache.put, key, completion.__dict__)
        self.counters["requests"].inc()
        self.counters["tokens_in"].inc(completion.prompt_tokens)
        self.counters["tokens_out"].inc(completion.completion_tokens)
        self._latency.update(int(completion.latency_s * 1000))
        return completion

    async def fetch(self, key: str, messages: list[dict[str, Any]], plan: SamplingPlan,
                    response_format: dict[str, Any] | None = None) -> tuple[Completion, bool]:
        """The completion cached under ``key``, else a fresh call (then cached); and whether it came from the cache."""
        completion = await asyncio.to_thread(self.cached, key)
        if completion is not None:
            return completion, True
        return await self.call(messages, plan, key, response_format), False

    def cached(self, key: str) -> Completion | None:
        """The cached completion for ``key`` (counted as a hit or a miss)."""
        entry = self.cache.get(key)
        self.counters["cache_misses" if entry is None else "cache_hits"].inc()
        return None if entry is None else Completion(**entry)

    def start_bundle(self):
        self._pending: set[concurrent.futures.Future] = set()

    def submit(self, coro: Coroutine, element: Any) -> Iterator:
        """Schedule ``coro`` (the work for ``element``); yields the outputs of whatever has finished (blocks while too much is queued)."""
        self._pending.add(asyncio.run_coroutine_threadsafe(settle(coro, element), self._loop))
        while len(self._pending) >= 2 * self._settings.max_in_flight:
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
                self.counters["failed"].inc()
                self.failed += 1
                Metrics.counter(self._namespace, f"failed_{result.reason}").inc()
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, result)
            else:
                yield self.emit(result)
        delta = self.teacher.retries - self._reported_retries
        if delta:
            self.counters["retries"].inc(delta)
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
        self._run(self.teacher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
