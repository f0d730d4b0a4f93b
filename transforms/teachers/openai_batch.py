"""The ``openai_batch`` backend: OpenAI's Files + Batches API (or any server that speaks it) at ``base_url``.

A batch file is uploaded (``POST /files``, purpose ``batch``), a batch created on it (``POST
/batches`` for ``/v1/chat/completions`` within ``batch.completion_window``), polled (``GET
/batches/{id}``) and, once final, its output and error files read (``GET /files/{id}/content``).
Each HTTP call is retried as an online request is (429, 5xx, timeouts; ``Retry-After`` honoured).
Everything else (grouping, the record beside the cache, matching, failures) is
:class:`~transforms.teachers.batch.BatchTeacher`'s.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import aiohttp

from transforms.teachers.base import TeacherError
from transforms.teachers.batch import CHAT_URL, FINAL, BatchState, BatchTeacher, result_lines
from transforms.teachers.openai_http import HTTPStatusError, read_bounded, retry_after_seconds, retrying
from transforms.teachers.reply_gate import MAX_BODY_BYTES
from transforms.teachers.settings import TeacherSettings


class OpenAIBatchService:
    """Files + Batches calls over one aiohttp session (opened on first use, on the caller's loop)."""

    def __init__(self, settings: TeacherSettings):
        if not settings.base_url:
            raise ValueError("teacher.backend openai_batch needs a base_url")
        self._settings = settings
        self._root = settings.base_url.rstrip("/")
        self._headers = {}
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if not key:
                raise TeacherError("missing_api_key", f"environment variable {settings.api_key_env} is not set")
            self._headers["Authorization"] = f"Bearer {key}"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers,
                                                  timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s))
        return self._session

    async def _call(self, method: str, path: str, form: Callable[[], aiohttp.FormData] | None = None, **kwargs: Any) -> str:
        """One API call with retries (``form`` builds a multipart body per attempt: a request consumes it)."""
        async def once() -> str:
            data = {"data": form()} if form else {}
            async with self._client().request(method, f"{self._root}{path}", **data, **kwargs) as response:
                raw = await read_bounded(response, MAX_BODY_BYTES * self._settings.max_in_flight)
                text = raw.decode("utf-8", "replace")
                if response.status >= 400:
                    raise HTTPStatusError(response.status, text[:1000], retry_after_seconds(response.headers.get("Retry-After")))
                return text

        return await retrying(self._settings, None)(once)

    async def submit(self, jsonl: bytes) -> str:
        """Upload the batch file and create the batch; the batch id."""
        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("purpose", "batch")
            data.add_field("file", jsonl, filename="mmcot-batch.jsonl", content_type="application/jsonl")
            return data

        uploaded = json.loads(await self._call("POST", "/files", form=form))
        created = json.loads(await self._call("POST", "/batches", json={
            "input_file_id": uploaded["id"], "endpoint": CHAT_URL,
            "completion_window": self._settings.batch.completion_window}))
        return created["id"]

    async def poll(self, batch_id: str) -> BatchState:
        """The batch's status, with its output and error files' lines once it is final."""
        batch = json.loads(await self._call("GET", f"/batches/{batch_id}"))
        status = batch["status"]
        if status not in FINAL:
            return BatchState(status)
        results = []
        for key in ("output_file_id", "error_file_id"):
            if batch.get(key):
                text = await self._call("GET", f"/files/{batch[key]}/content")
                results += result_lines(text)
        return BatchState(status, results)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def openai_batch_teacher(settings: TeacherSettings) -> BatchTeacher:
    """A batch teacher over the Files + Batches API at ``settings.base_url``."""
    return BatchTeacher(settings, OpenAIBatchService(settings))
