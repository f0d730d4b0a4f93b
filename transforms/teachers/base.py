"""The teacher interface every backend implements, and its errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from schemas.plan import SamplingPlan


@dataclass
class Completion:
    """One sampled completion as a backend returns it (checked by ``reply_gate.checked`` before any stage reads it).

    A token count is None when it is unknown: the server sent none, or one the gate refused.
    """

    content: str
    reasoning: str | None
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float


class TeacherError(RuntimeError):
    """A request that failed for good; ``reason`` is a short word (``http_400``, ``timeout`` …)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Teacher(Protocol):
    """An async backend that samples one completion per call."""

    model: str
    retries: int

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0) -> Completion:
        """Sample one completion for ``messages`` under ``plan`` (constrained by an OpenAI
        ``response_format`` such as a JSON schema when given); ``sample`` is the sample's number
        (a seeded request's seed is offset by it). Raises TeacherError."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def sampling_fields(plan: SamplingPlan) -> dict[str, Any]:
    """The sampling settings that change a completion (part of the cache key and the request)."""
    return {
        "max_tokens": plan.max_tokens,
        "temperature": plan.temperature,
        "top_p": plan.top_p,
        "repetition_penalty": plan.repetition_penalty,
    }
