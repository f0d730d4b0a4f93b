"""OpenAI-compatible chat backend (vLLM's server or any compatible endpoint) over aiohttp.

aiohttp rather than httpx: httpcore's pool walks every pooled connection on each request
start and finish, which at hundreds of requests in flight cost ~80 % of the client's CPU
(``benchmarks/client_peers.py --target stub``). Transient failures (429, 5xx, timeouts, dropped connections) are retried by tenacity with
exponential backoff and jitter, honouring ``Retry-After``; other 4xx fail at once. The body (read up to
a bound) is parsed by the reply gate (``reply_gate.py``): a reply is untrusted input. vLLM's
``repetition_penalty`` goes in the request body. The API key is read from the environment
variable the settings name and never logged.
"""
from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError, sampling_fields
from transforms.teachers.reply_gate import MAX_BODY_BYTES, completion_from_body, parse_body
from transforms.teachers.settings import TeacherSettings


class HTTPStatusError(RuntimeError):
    """A non-2xx answer, with the server's Retry-After if it sent one."""

    def __init__(self, status: int, message: str, retry_after: float | None):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and transport errors (resets, refused, torn responses) are transient."""
    if isinstance(exc, HTTPStatusError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (asyncio.TimeoutError, aiohttp.ClientError))


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """A short reason word and a detail for a request that failed for good."""
    if isinstance(exc, HTTPStatusError):
        return f"http_{exc.status}", exc.message[:500]
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout", type(exc).__name__
    if isinstance(exc, aiohttp.ClientError):
        return "connection_error", f"{type(exc).__name__}: {exc}"[:500]
    return "bad_response", f"{type(exc).__name__}: {exc}"[:500]


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (None when absent or not a number)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The response body, read in chunks and cut once it passes ``limit`` bytes (the gate then refuses it as
    ``too_large``): a server cannot make the client hold an unbounded body."""
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


class _WaitRetryAfter:
    """Tenacity wait: the server's Retry-After when given (capped), else exponential backoff with jitter."""

    def __init__(self, cap: float):
        self._cap = cap
        self._backoff = wait_exponential_jitter(initial=0.5, max=cap)

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, HTTPStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self._cap)
        return self._backoff(retry_state)


def retrying(settings: TeacherSettings, before_sleep) -> AsyncRetrying:
    """Tenacity's retry loop for one request: transient failures retried up to ``max_attempts`` (``before_sleep``
    is called before each retry), Retry-After honoured, the last error re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=_WaitRetryAfter(settings.max_backoff_s),
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


def chat_body(settings: TeacherSettings, messages: list[dict[str, Any]], plan: SamplingPlan,
              response_format: dict[str, Any] | None = None, sample: int = 0) -> dict[str, Any]:
    """The ``/chat/completions`` JSON body for one sample (online, and a batch file's line)."""
    body = {"model": settings.model, "messages": messages, "n": 1, **sampling_fields(plan)}
    seed = settings.request_seed(sample)
    if seed is not None:
        body["seed"] = seed
    if response_format is not None:
        body["response_format"] = response_format
    return body


class OpenAIChatTeacher:
    """Async client for ``POST {base_url}/chat/completions`` with retries; one sample per call.

    The aiohttp session is opened on first use, on the event loop the calls run on.
    """

    def __init__(self, settings: TeacherSettings):
        if not settings.base_url:
            raise ValueError("teacher.backend openai needs a base_url")
        self.model = settings.model
        self.retries = 0
        self._settings = settings
        headers = {}
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if not key:
                raise TeacherError("missing_api_key", f"environment variable {settings.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s),
                connector=aiohttp.TCPConnector(limit=self._settings.max_in_flight),
            )
        return self._session

    def request_body(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                     response_format: dict[str, Any] | None = None, sample: int = 0) -> dict[str, Any]:
        """The JSON body for one sample."""
        return chat_body(self._settings, messages, plan, response_format, sample)

    async def _post(self, body: dict[str, Any]) -> bytes:
        """The response body (at most one byte past ``reply_gate.MAX_BODY_BYTES`` is read)."""
        async with self._client().post(self._url, json=body) as response:
            raw = await read_bounded(response, MAX_BODY_BYTES)
            if response.status >= 400:
                text = raw[:1000].decode("utf-8", "replace")
                raise HTTPStatusError(response.status, text, retry_after_seconds(response.headers.get("Retry-After")))
        return raw

    def _count_retry(self, _retry_state) -> None:
        self.retries += 1

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0) -> Completion:
        """One completion; raises TeacherError once retries are exhausted or the error is permanent."""
        body = self.request_body(messages, plan, response_format, sample)
        started = time.monotonic()
        try:
            raw = await retrying(self._settings, self._count_retry)(self._post, body)
        except (TimeoutError, HTTPStatusError, aiohttp.ClientError) as exc:
            raise TeacherError(*failure_reason(exc)) from exc
        return completion_from_body(parse_body(raw), time.monotonic() - started)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
