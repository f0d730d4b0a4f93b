"""In-process vLLM backend (``teacher.backend: vllm``) for GPU workers: one ``vllm.LLM`` per process.

Concurrent :meth:`VllmEngineTeacher.complete` calls queue their request; the engine thread takes
what is queued, and what keeps arriving without a pause of ``engine.max_batch_wait_s`` (up to
``engine.max_batch``), and runs it as one ``LLM.chat`` call with one
``SamplingParams`` per request, then resolves each caller's future. Requests that arrive while a
batch runs form the next one. The engine is built once per worker process through Beam's
``Shared`` and lives as long as the process.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from apache_beam.utils.shared import Shared
from vllm import LLM, RequestOutput, SamplingParams
from vllm.platforms import current_platform

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError
from transforms.teachers.engine_inputs import engine_conversation, sampling_params, to_completion
from transforms.teachers.settings import EngineSettings, TeacherSettings
from transforms.teachers.vllm_cpu import CPU_DTYPE, CPU_ENFORCE_EAGER, CPU_RESERVED_CPUS, vllm_environment

log = logging.getLogger(__name__)
_ENGINES = Shared()


def engine_kwargs(settings: EngineSettings, seed: int, on_cpu: bool) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``: the settings, CPU defaults where unset on a CPU host."""
    if settings.model_path is None:
        raise TeacherError("bad_config", "teacher.engine.model_path is not set")
    dtype = settings.dtype or (CPU_DTYPE if on_cpu else "auto")
    eager = settings.enforce_eager if settings.enforce_eager is not None else (CPU_ENFORCE_EAGER and on_cpu)
    return {
        "model": settings.model_path,
        "dtype": dtype,
        "enforce_eager": eager,
        "max_model_len": settings.max_model_len,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "seed": seed,
        **settings.engine_kwargs,
    }


def load_engine(settings: EngineSettings, seed: int) -> LLM:
    """A ``vllm.LLM`` for ``settings`` (on a CPU host, the CPU environment is set first unless already set)."""
    on_cpu = current_platform.is_cpu()
    if on_cpu:
        for name, value in vllm_environment(settings.cpu_kv_cache_gib, CPU_RESERVED_CPUS).items():
            os.environ.setdefault(name, value)
    kwargs = engine_kwargs(settings, seed, on_cpu)
    started = time.monotonic()
    llm = LLM(**kwargs)
    log.info("vLLM engine for %s loaded in %.0f s", kwargs["model"], time.monotonic() - started)
    return llm


@dataclass
class _Request:
    conversation: list[dict[str, Any]]
    params: SamplingParams
    future: concurrent.futures.Future


class EngineBatcher:
    """One ``vllm.LLM`` and the thread that owns it, fed micro-batches from a queue."""

    def __init__(self, settings: EngineSettings, seed: int):
        self._settings = settings
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()  # None: close
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(seed, started), name="mmcot-vllm-engine", daemon=True)
        self._thread.start()
        started.result()  # re-raises a failed load here

    def submit(self, conversation: list[dict[str, Any]], params: SamplingParams) -> concurrent.futures.Future:
        """Queue one request; the future resolves to its ``RequestOutput``."""
        request = _Request(conversation, params, concurrent.futures.Future())
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Finish the queued requests, then stop the engine's processes (at the end of a process's work)."""
        self._queue.put(None)
        self._thread.join()

    def _serve(self, seed: int, started: concurrent.futures.Future) -> None:
        try:
            llm = load_engine(self._settings, seed)
        except BaseException as exc:  # handed to the constructor's caller
            started.set_exception(exc)
            return
        started.set_result(None)
        while (batch := self._next_batch()) is not None:
            self._run(llm, batch)
        llm.llm_engine.engine_core.shutdown()

    def _next_batch(self) -> list[_Request] | None:
        """The first queued request, then more until none arrives for ``max_batch_wait_s`` or ``max_batch``
        are taken; None to close."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self._settings.max_batch:
            try:
                request = self._queue.get(timeout=self._settings.max_batch_wait_s)
            except queue.Empty:
                break
            if request is None:
                self._queue.put(None)  # close after this batch
                break
            batch.append(request)
        return batch

    def _run(self, llm: LLM, batch: list[_Request]) -> None:
        """One ``LLM.chat`` for the batch; if it raises, each request runs alone so one bad request fails alone."""
        try:
            outputs: list[RequestOutput] = llm.chat(
                [r.conversation for r in batch], sampling_params=[r.params for r in batch], use_tqdm=False
            )
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for request in batch:
                self._run(llm, [request])
            return
        for request, output in zip(batch, outputs):
            request.future.set_result(output)


def shared_engine(settings: TeacherSettings) -> EngineBatcher:
    """This process's engine for ``settings`` (loaded on first use)."""
    tag = f"{settings.engine.model_dump_json()}|seed={settings.seed}"
    return _ENGINES.acquire(lambda: EngineBatcher(settings.engine, settings.seed), tag=tag)


class VllmEngineTeacher:
    """The :class:`~transforms.teachers.base.Teacher` interface over the process's shared engine."""

    def __init__(self, settings: TeacherSettings):
        self.model = settings.model
        self.retries = 0  # failures are not transient here: nothing is retried
        self._seed = settings.seed if settings.send_seed else None
        self._engine = shared_engine(settings)

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None) -> Completion:
        """One completion from the engine's next batch; raises TeacherError if the engine fails it."""
        started = time.monotonic()
        conversation = await asyncio.to_thread(engine_conversation, messages)
        future = self._engine.submit(conversation, sampling_params(plan, response_format, self._seed))
        try:
            output = await asyncio.wrap_future(future)
        except Exception as exc:
            raise TeacherError("engine_error", f"{type(exc).__name__}: {exc}"[:500]) from exc
        return to_completion(output, time.monotonic() - started)

    async def aclose(self) -> None:
        """Nothing to release: the engine is shared by the process and lives as long as it."""
