"""OpenAI-compatible chat backend (vLLM's server or any compatible endpoint) over httpx.

Transient failures (429, 5xx, timeouts, dropped connections) are retried by tenacity with
exponential backoff and jitter, honouring ``Retry-After``; other 4xx fail at once. vLLM's
``repetition_penalty`` goes in the request body. The API key is read from the environment
variable the settings name and never logged.
"""
from __future__ import annotations

import os
import time
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError, sampling_fields
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
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError))


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """A short reason word and a detail for a request that failed for good."""
    if isinstance(exc, HTTPStatusError):
        return f"http_{exc.status}", exc.message[:500]
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return "connection_error", f"{type(exc).__name__}: {exc}"[:500]
    return "bad_response", f"{type(exc).__name__}: {exc}"[:500]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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


def parse_choice(body: dict[str, Any]) -> tuple[str, str | None, str, int, int]:
    """content, reasoning (vLLM's ``reasoning_content``/``reasoning``), finish_reason and token usage."""
    choice = body["choices"][0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = body.get("usage") or {}
    return (
        message.get("content") or "",
        reasoning,
        choice.get("finish_reason") or "unknown",
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )


class OpenAIChatTeacher:
    """Async client for ``POST {base_url}/chat/completions`` with retries; one sample per call."""

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
        limits = httpx.Limits(max_connections=settings.max_in_flight, max_keepalive_connections=settings.max_in_flight)
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"), headers=headers, timeout=settings.timeout_s, limits=limits
        )

    def request_body(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                     response_format: dict[str, Any] | None = None, sample: int = 0) -> dict[str, Any]:
        """The JSON body for one sample."""
        body = {"model": self.model, "messages": messages, "n": 1, **sampling_fields(plan)}
        seed = self._settings.request_seed(sample)
        if seed is not None:
            body["seed"] = seed
        if response_format is not None:
            body["response_format"] = response_format
        return body

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._client.post("/chat/completions", json=body)
        if response.status_code >= 400:
            raise HTTPStatusError(
                response.status_code, response.text[:1000], _retry_after(response.headers.get("Retry-After"))
            )
        return response.json()

    def _count_retry(self, _retry_state) -> None:
        self.retries += 1

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0) -> Completion:
        """One completion; raises TeacherError once retries are exhausted or the error is permanent."""
        body = self.request_body(messages, plan, response_format, sample)
        started = time.monotonic()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=_WaitRetryAfter(self._settings.max_backoff_s),
            retry=retry_if_exception(is_retryable),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            data = await retrying(self._post, body)
            content, reasoning, finish, prompt_tokens, completion_tokens = parse_choice(data)
        except (HTTPStatusError, httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as exc:
            raise TeacherError(*failure_reason(exc)) from exc
        return Completion(
            content=content,
            reasoning=reasoning,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=time.monotonic() - started,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
