"""Batch backends: a teacher's requests sent as OpenAI batch files instead of one call each.

:class:`BatchTeacher` is a Teacher like the online ones, so a stage's one ask path (cache key →
cache → call → store) is unchanged: each ``complete`` call becomes one line of the OpenAI batch
JSONL format (``custom_id``, ``method``, ``url``, ``body``: the online request's body). The lines
a DoFn's calls queue are submitted together once ``max_in_flight`` of them wait (the in-flight
bound is the batch size) or ``batch.linger_s`` after the first, so a bundle's requests go as
one batch or a few. The batch is polled every ``batch.poll_s``; its results are matched back by
``custom_id`` and parsed as an online response (:func:`~transforms.teachers.reply_gate.completion_from_body`),
and the stage caches them as it caches online answers.

**Resume.** A submitted batch's id and custom ids are recorded beside the response cache
(``<cache>/_batches/<batch id>.json``) as soon as the service accepts it. A restarted run asking
for a recorded request polls that batch (or reads its results) instead of submitting again; an
item that batch ended without a usable result for is submitted again in this run's own batch.

**Failures.** An item that fails in a batch this run submitted (an error line, a non-200 response, no result in a
batch that ended ``failed``, ``expired`` or ``cancelled``, or a batch that could not be submitted)
follows ``batch.on_failure``: ``online`` sends it once more as an online request to ``base_url``
(with the online client's retries; a permanent error there dead-letters it as online), and
``dead_letter`` fails it at once with the reason ``batch_<why>`` (``batch_expired``,
``batch_http_400`` …), which the stage dead-letters. A batch whose polling fails ``max_attempts``
times in a row (each poll already retried as an online request is) counts as ``failed``.

A service (:class:`BatchService`) does the submitting: ``openai_batch`` (Files + Batches API) and
``vllm_batch`` (vLLM's ``run_batch`` on a local model).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import fsspec

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError
from transforms.teachers.openai_http import OpenAIChatTeacher, chat_body
from transforms.teachers.reply_gate import completion_from_body, parse_body
from transforms.teachers.settings import TeacherSettings

log = logging.getLogger(__name__)
CHAT_URL = "/v1/chat/completions"
FINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class BatchState:
    """A batch as its service reports it: ``status`` (``in_progress`` until one of :data:`FINAL`) and, once final,
    the result lines (parsed output and error file lines)."""

    status: str
    results: list[dict[str, Any]] | None = None


class BatchService(Protocol):
    """Submits batch files and reports on them."""

    async def submit(self, jsonl: bytes) -> str:
        """Submit the batch file; its batch id."""
        ...

    async def poll(self, batch_id: str) -> BatchState:
        """The batch's state (with its results once final)."""
        ...

    async def aclose(self) -> None:
        """Release connections and processes."""
        ...


def custom_id(body: dict[str, Any], sample: int) -> str:
    """A request's id in a batch file: sha256 of its body and sample number (samples of one prompt share a body)."""
    return hashlib.sha256(json.dumps([body, sample], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def batch_line(cid: str, body: dict[str, Any]) -> str:
    """One line of an OpenAI batch input file."""
    return json.dumps({"custom_id": cid, "method": "POST", "url": CHAT_URL, "body": body}, ensure_ascii=False)


_WORD = re.compile(r"[a-z0-9_]{1,40}")


def result_failure(result: Any) -> str | None:
    """Why a result line is not a usable response (None when it is one): ``batch_<code>`` for an error the
    service named with a plain word (else ``batch_error``), ``batch_http_<status>`` for another status."""
    if not isinstance(result, dict):
        return "batch_error"
    response = result.get("response")
    response = response if isinstance(response, dict) else {}
    if result.get("error") and not response.get("body"):
        code = result["error"].get("code") if isinstance(result["error"], dict) else None
        return f"batch_{code}" if isinstance(code, str) and _WORD.fullmatch(code) else "batch_error"
    status = response.get("status_code")
    if status == 200 and response.get("body"):
        return None
    return f"batch_http_{status}" if isinstance(status, int) and 100 <= status <= 599 else "batch_http_unknown"


def result_lines(text: str) -> list[Any]:
    """The parsed lines of a batch's output or error file; a line the reply gate cannot parse is left out (its
    request then has no result, which the failure rule handles)."""
    results = []
    for line in text.splitlines():
        if line.strip():
            try:
                results.append(parse_body(line))
            except TeacherError as exc:
                log.warning("Skipping a batch result line: %s", exc.reason)
    return results


class BatchLedger:
    """The record of submitted batches beside the response cache: ``<cache>/_batches/<batch id>.json``."""

    def __init__(self, cache_url: str):
        self._fs, root = fsspec.core.url_to_fs(cache_url.rstrip("/"))
        self.root = f"{root}/_batches"

    def record(self, batch_id: str, custom_ids: list[str]) -> None:
        """Note that ``batch_id`` holds ``custom_ids``."""
        self._fs.makedirs(self.root, exist_ok=True)
        entry = {"batch_id": batch_id, "custom_ids": custom_ids, "submitted_at": time.time()}
        self._fs.pipe_file(f"{self.root}/{_safe(batch_id)}.json", json.dumps(entry).encode())

    def index(self) -> dict[str, str]:
        """custom id → the batch that holds it, over every recorded batch (the latest wins)."""
        if not self._fs.exists(self.root):
            return {}
        entries = []
        for path in self._fs.glob(f"{self.root}/*.json"):
            try:
                entries.append(json.loads(self._fs.cat_file(path)))
            except (json.JSONDecodeError, UnicodeDecodeError, FileNotFoundError):
                log.warning("Skipping an unreadable batch record %s", path)
        return {cid: e["batch_id"] for e in sorted(entries, key=lambda e: e["submitted_at"]) for cid in e["custom_ids"]}


def _safe(batch_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in batch_id)


class BatchTeacher:
    """The Teacher interface over a :class:`BatchService` (one instance per DoFn, on the DoFn's event loop)."""

    def __init__(self, settings: TeacherSettings, service: BatchService):
        if settings.batch.on_failure == "online" and not settings.base_url:
            raise ValueError(f"{settings.backend}: batch.on_failure online needs a base_url for the online requests")
        if not settings.cache_url:
            raise ValueError(f"{settings.backend}: needs the response cache's URL (cache_url) to record its batches")
        self.model = settings.model
        self._settings = settings
        self._batch = settings.batch
        self._service = service
        self._ledger = BatchLedger(settings.cache_url)
        self._online = OpenAIChatTeacher(settings) if settings.batch.on_failure == "online" else None
        self._retries = 0
        self._index: dict[str, str] | None = None
        self._queue: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._polls: dict[str, asyncio.Task] = {}
        self._submits: set[asyncio.Task] = set()
        self._mine: set[str] = set()  # batches this teacher submitted (an earlier run's: failed items go again)
        self._bodies: dict[str, dict[str, Any]] = {}  # requests waiting on an earlier run's batch
        self._linger: asyncio.TimerHandle | None = None
        self.submitted = 0

    @property
    def retries(self) -> int:
        """Items sent again online after failing in a batch, plus the online client's own retries."""
        return self._retries + (self._online.retries if self._online else 0)

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0) -> Completion:
        """The batch result for this request (queued, or found in a recorded batch); see the module's failure rule."""
        if self._index is None:
            index = await asyncio.to_thread(self._ledger.index)
            if self._index is None:  # the first of the calls that read it concurrently: later ones keep its updates
                self._index = index
        body = chat_body(self._settings, messages, plan, response_format, sample)
        cid = custom_id(body, sample)
        started = time.monotonic()
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(cid, []).append(future)
        if len(self._waiting[cid]) == 1:
            if cid in self._index:
                self._bodies[cid] = body
                self._watch(self._index[cid])
            else:
                self._enqueue(cid, body)
        result = await future
        why = result_failure(result)
        if why is not None:
            return await self._failed(why, json.dumps(result)[:500], messages, plan, response_format, sample)
        return completion_from_body(result["response"]["body"], time.monotonic() - started)

    async def _failed(self, why: str, detail: str, *request) -> Completion:
        if self._online is None:
            raise TeacherError(why, detail)
        self._retries += 1
        return await self._online.complete(*request)

    def _enqueue(self, cid: str, body: dict[str, Any]) -> None:
        self._queue[cid] = body
        if len(self._queue) >= self._settings.max_in_flight:
            self._flush()
        elif self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(self._batch.linger_s, self._flush)

    def _flush(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        queued, self._queue = self._queue, {}
        if queued:
            task = asyncio.get_running_loop().create_task(self._submit(queued))
            self._submits.add(task)
            task.add_done_callback(self._submits.discard)

    async def _submit(self, queued: dict[str, dict[str, Any]]) -> None:
        jsonl = "".join(batch_line(cid, body) + "\n" for cid, body in queued.items()).encode()
        try:
            batch_id = await self._service.submit(jsonl)
            await asyncio.to_thread(self._ledger.record, batch_id, list(queued))
        except Exception as exc:  # every waiter gets the failure rule, none is left hanging
            log.warning("Submitting a batch of %d requests failed: %s", len(queued), exc)
            self._resolve(list(queued), {"error": {"code": "submit_failed", "message": str(exc)[:300]}})
            return
        self.submitted += 1
        self._mine.add(batch_id)
        log.info("Submitted batch %s (%d requests) for %s", batch_id, len(queued), self.model)
        for cid in queued:
            self._index[cid] = batch_id
        self._watch(batch_id)

    def _watch(self, batch_id: str) -> None:
        if batch_id not in self._polls:
            self._polls[batch_id] = asyncio.get_running_loop().create_task(self._poll(batch_id))

    async def _poll(self, batch_id: str) -> None:
        """Poll until the batch is final, then hand every waiting request of it its result (or its failure)."""
        failures = 0
        while True:
            try:
                state = await self._service.poll(batch_id)
            except Exception as exc:  # the service retried already; a batch of hours outlives a short outage
                failures += 1
                log.warning("Polling batch %s failed (%d of %d): %s", batch_id, failures, self._settings.max_attempts, exc)
                state = BatchState("failed", []) if failures >= self._settings.max_attempts else BatchState("unknown")
            if state.status in FINAL:
                break
            await asyncio.sleep(self._batch.poll_s)
        found = {r["custom_id"]: r for r in state.results or [] if isinstance(r, dict) and isinstance(r.get("custom_id"), str)}
        unserved = {"error": {"code": state.status if state.status != "completed" else "no_result"}}
        for cid in [c for c, b in self._index.items() if b == batch_id and c in self._waiting]:
            result = found.get(cid, unserved)
            if result_failure(result) and batch_id not in self._mine:
                del self._index[cid]
                self._enqueue(cid, self._bodies.pop(cid))
            else:
                self._bodies.pop(cid, None)
                self._resolve([cid], result)
        del self._polls[batch_id]

    def _resolve(self, cids: list[str], result: dict[str, Any]) -> None:
        for cid in cids:
            for future in self._waiting.pop(cid, []):
                if not future.done():
                    future.set_result(result)

    async def aclose(self) -> None:
        """Stop polling and release the service and the online client."""
        for task in (*self._polls.values(), *self._submits):
            task.cancel()
        await self._service.aclose()
        if self._online is not None:
            await self._online.aclose()
