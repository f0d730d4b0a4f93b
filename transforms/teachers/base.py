"""The teacher interface every backend implements, and its errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from schemas.plan import SamplingPlan


@dataclass
class Completion:
    """One sampled completion as a backend returns it (checked by ``reply_gate.checked`` before any stage reads it).

    A token count is None when it is unknown: the server sent none, or one the gate refused. ``logprobs`` is the
    token log-probability payload as the backend got it (once gated, a :class:`~schemas.signals.TokenLogprobs`, or
    None with ``logprobs_error`` naming why, when they were asked for).
    """

    content: str
    reasoning: str | None
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    logprobs: Any = None
    logprobs_error: str | None = None


class TeacherError(RuntimeError):
    """A request that failed for good; ``reason`` is a short word (``http_400``, ``timeout`` …)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Teacher(Protocol):
    """An async backend that samples completions of a prompt, up to ``max_n`` of them in one request."""

    model: str
    retries: int
    max_n: int

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0,
                       n: int = 1) -> list[Completion | TeacherError]:
        """Samples ``sample`` to ``sample + n - 1`` of ``messages`` under ``plan`` in one request (constrained by an
        OpenAI ``response_format`` such as a JSON schema when given; a seeded request carries sample ``sample``'s
        seed). One entry per sample the reply holds, in order (fewer than ``n`` when the server sent fewer): its
        Completion, or the TeacherError that makes that sample's reply unusable. Raises TeacherError when the
        request fails."""
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
