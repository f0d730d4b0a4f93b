"""In-process vLLM backend (``teacher.backend: vllm``) for GPU workers: one ``vllm.LLM`` per process.

Concurrent :meth:`VllmEngineTeacher.complete` calls queue their request; the engine thread feeds
them into the running engine between steps (continuous batching, one ``SamplingParams`` per
request, ``n`` samples each) and resolves each caller's future when its request finishes. The engine is built once
per worker process and model through Beam's ``Shared`` and lives as long as the process.
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
from vllm import LLM, SamplingParams
from vllm.platforms import current_platform

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError
from transforms.teachers.engine_inputs import engine_conversation, sampling_params, to_completions
from transforms.teachers.settings import EngineSettings, TeacherSettings
from transforms.teachers.vllm_cpu import CPU_DTYPE, CPU_ENFORCE_EAGER, CPU_RESERVED_CPUS, vllm_environment

log = logging.getLogger(__name__)
_ENGINES: dict[str, Shared] = {}  # one handle per model: a Shared holds one object and rebuilds it when the tag changes
_ENGINES_LOCK = threading.Lock()


def engine_kwargs(settings: EngineSettings, seed: int, on_cpu: bool, max_images: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``: the settings, CPU defaults where unset on a CPU host, at most
    ``max_images`` images per prompt when given (``engine_kwargs`` may say otherwise)."""
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
        **({"limit_mm_per_prompt": {"image": max_images}} if max_images is not None else {}),
        **settings.engine_kwargs,
    }


def load_engine(settings: EngineSettings, seed: int, max_images: int | None = None) -> LLM:
    """A ``vllm.LLM`` for ``settings`` (on a CPU host, the CPU environment is set first unless already set)."""
    on_cpu = current_platform.is_cpu()
    if on_cpu:
        for name, value in vllm_environment(settings.cpu_kv_cache_gib, CPU_RESERVED_CPUS).items():
            os.environ.setdefault(name, value)
    kwargs = engine_kwargs(settings, seed, on_cpu, max_images)
    started = time.monotonic()
    llm = LLM(**kwargs)
    log.info("vLLM engine for %s loaded in %.0f s", kwargs["model"], time.monotonic() - started)
    return llm


@dataclass
class _Request:
    conversation: list[dict[str, Any]]
    params: SamplingParams
    future: concurrent.futures.Future


class EngineLoop:
    """One ``vllm.LLM`` and the thread that owns it, batching continuously.

    Between engine steps the thread moves every queued request into the engine
    (``LLM.enqueue_chat``: chat template, images, one ``SamplingParams`` per request), then runs
    one ``step()`` and resolves the futures of the requests that finished in it. New requests
    join the running batch at the next step and finished ones return at once, so no request
    waits for a batch's slowest one (as with one ``LLM.chat`` call per micro-batch).
    """

    def __init__(self, settings: EngineSettings, seed: int, max_images: int | None = None):
        self._settings = settings
        self._max_images = max_images
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()  # None: close
        self._broken: BaseException | None = None
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(seed, started), name="mmcot-vllm-engine", daemon=True)
        self._thread.start()
        started.result()  # re-raises a failed load here

    def submit(self, conversation: list[dict[str, Any]], params: SamplingParams) -> concurrent.futures.Future:
        """Queue one request; the future resolves to its ``RequestOutput`` (or fails if the loop broke or was closed)."""
        request = _Request(conversation, params, concurrent.futures.Future())
        self._queue.put(request)
        if self._broken is not None:
            self._fail_queued(self._broken)
        return request.future

    def close(self) -> None:
        """Finish the queued requests, then stop the engine's processes (at the end of a process's work).

        A request submitted after this fails at once rather than waiting for a loop that is gone.
        """
        self._queue.put(None)
        self._thread.join()
        self._broken = self._broken or RuntimeError("the vLLM engine loop is closed")
        self._fail_queued(self._broken)

    def _serve(self, seed: int, started: concurrent.futures.Future) -> None:
        try:
            llm = load_engine(self._settings, seed, self._max_images)
        except BaseException as exc:  # handed to the constructor's caller
            started.set_exception(exc)
            return
        started.set_result(None)
        running: dict[str, concurrent.futures.Future] = {}
        closing = False
        try:
            while running or not closing:
                closing = self._admit(llm, running, wait=not running) or closing
                if running:
                    self._step(llm, running)
        except Exception as exc:  # the loop itself broke: fail every request now and later, never leave one waiting
            log.exception("vLLM engine loop stopped")
            self._broken = exc
            for future in running.values():
                future.set_exception(exc)
            self._fail_queued(exc)
        finally:
            llm.llm_engine.engine_core.shutdown()

    def _fail_queued(self, exc: BaseException) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            if request is not None and not request.future.done():
                request.future.set_exception(exc)

    def _admit(self, llm: LLM, running: dict[str, concurrent.futures.Future], wait: bool) -> bool:
        """Move queued requests into the engine (with ``wait``, block for the first); True once close was asked.

        A request the engine refuses (say, a prompt over ``max_model_len``) fails alone, here.
        """
        while True:
            try:
                request = self._queue.get(block=wait)
            except queue.Empty:
                return False
            if request is None:
                return True
            wait = False
            try:
                (request_id,) = llm.enqueue_chat([request.conversation], sampling_params=[request.params], use_tqdm=False)
            except Exception as exc:
                request.future.set_exception(exc)
                continue
            running[request_id] = request.future

    @staticmethod
    def _step(llm: LLM, running: dict[str, concurrent.futures.Future]) -> None:
        """One engine step; the requests it finished get their output. If the step fails, every running request does."""
        try:
            outputs = llm.llm_engine.step()
        except Exception as exc:
            for future in running.values():
                future.set_exception(exc)
            running.clear()
            return
        for output in outputs:
            if output.finished:
                running.pop(_running_id(running, output.request_id)).set_result(output)


def _running_id(running: dict[str, concurrent.futures.Future], output_id: str) -> str:
    """The id ``enqueue_chat`` returned for an output: vLLM reports the id it was given, and returns it with a
    random suffix added (``"7"`` → ``"7-1a2b3c4d"``)."""
    if output_id in running:
        return output_id
    for key in running:
        if key.startswith(f"{output_id}-"):
            return key
    raise RuntimeError(f"vLLM finished request {output_id!r}, which this loop did not send")


def _engine_tag(settings: TeacherSettings) -> str:
    return f"{settings.engine.model_dump_json()}|seed={settings.seed}|images={settings.limits.max_images}"


def shared_engine(settings: TeacherSettings) -> EngineLoop:
    """This process's engine for ``settings`` (loaded on first use; at most ``limits.max_images`` images per prompt
    when set)."""
    tag = _engine_tag(settings)
    with _ENGINES_LOCK:
        handle = _ENGINES.setdefault(tag, Shared())
    return handle.acquire(lambda: EngineLoop(settings.engine, settings.seed, settings.limits.max_images), tag=tag)


def close_shared_engine(settings: TeacherSettings) -> None:
    """Close this process's engine for ``settings`` and forget it, so a later :func:`shared_engine` loads a new one
    (a closed engine refuses every request)."""
    with _ENGINES_LOCK:
        handle = _ENGINES.pop(_engine_tag(settings), None)
    engine = None if handle is None else handle.acquire(lambda: None, tag=_engine_tag(settings))  # None: never loaded
    if engine is not None:
        engine.close()


class VllmEngineTeacher:
    """The :class:`~transforms.teachers.base.Teacher` interface over the process's shared engine."""

    def __init__(self, settings: TeacherSettings):
        self.model = settings.model
        self.retries = 0  # failures are not transient here: nothing is retried
        self.max_n = settings.samples_per_request
        self._settings = settings
        self._engine = shared_engine(settings)

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0,
                       n: int = 1) -> list[Completion | TeacherError]:
        """``n`` samples in one engine request; raises TeacherError if the engine fails it."""
        started = time.monotonic()
        conversation = await asyncio.to_thread(engine_conversation, messages)
        top = self._settings.logprobs.top if self._settings.logprobs is not None else None
        params = sampling_params(plan, response_format, self._settings.request_seed(sample), n, top)
        future = self._engine.submit(conversation, params)
        try:
            output = await asyncio.wrap_future(future)
        except Exception as exc:
            raise TeacherError("engine_error", f"{type(exc).__name__}: {exc}"[:500]) from exc
        return to_completions(output, time.monotonic() - started, top)

    async def aclose(self) -> None:
        """Nothing to release: the engine is shared by the process and lives as long as it."""
