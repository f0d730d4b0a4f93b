"""Per-endpoint request and token rate limits, shared by every teacher call of a worker process.

Each limit is a token bucket refilled at ``limit / 60 / workers`` per second that holds at most
``burst_s`` seconds' worth. A call takes one request and its estimated tokens (prompt text at
``chars_per_token``, ``tokens_per_image`` per image, plus the plan's ``max_tokens``) once both
buckets hold them, sleeping until then; when the response arrives the estimate is corrected by
the usage it reports (a refund, so waiting calls go sooner, or a debt that later calls wait off).
A call that fails keeps its estimate charged. Waiting calls look again every ``RECHECK_S`` at the
most and are not queued in order: whichever looks first once the buckets hold enough goes.

**Many workers.** A provider's limit holds for the whole job, each worker process's limiter only
for that process, so each gets the share ``limit / workers``. ``workers`` is the number of
processes that call the endpoint at once: set it, or leave it empty and the launcher fills in the
count the runner states (``pipelines.runners.worker_processes``; 1 where it states none, with a
warning). A run whose workers start and stop (autoscaling) should set the peak count.

Written here rather than taken from aiolimiter, limits or pyrate-limiter: their limiters belong to
one asyncio loop (every teacher-call DoFn runs its own loop on its own thread, and they must
share one limiter), the sliding-window ones store an entry per token, and none lets a charge be
corrected after the call.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from pydantic import Field

from schemas.settings import Settings

log = logging.getLogger(__name__)
RECHECK_S = 0.25  # a waiting call looks again at least this often


class RateLimitSettings(Settings):
    """An endpoint's limits (``<section>.rate_limit``); a limit left empty is not enforced."""

    requests_per_minute: float | None = Field(
        default=None, gt=0,
        description="The endpoint's request limit per minute, for the whole job; null: not enforced.",
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0,
        description="The endpoint's token limit per minute, for the whole job; null: not enforced.",
    )
    workers: int | None = Field(
        default=None, ge=1,
        description="Worker processes calling the endpoint at once (each gets limit / workers); null: the count the runner states.",
    )
    burst_s: float = Field(default=1.0, gt=0, description="Seconds' worth of a limit a bucket holds at most (the burst allowed).")
    chars_per_token: float = Field(default=4.0, gt=0, description="Characters per token, to estimate a prompt's tokens.")
    tokens_per_image: int = Field(default=1000, ge=0, description="Tokens counted per image, to estimate a prompt's tokens.")


class Bucket:
    """``rate`` units per second, at most ``capacity`` saved; a take may overdraw it (later takers wait the debt off)."""

    def __init__(self, rate: float, capacity: float):
        self.rate = rate
        self.capacity = capacity
        self._level = capacity
        self._at = time.monotonic()

    def shortfall(self, n: float) -> float:
        """Seconds until ``n`` units (at most a full bucket) are saved; 0 when they are."""
        now = time.monotonic()
        self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
        self._at = now
        return max(0.0, (min(n, self.capacity) - self._level) / self.rate)

    def take(self, n: float) -> None:
        """Charge ``n`` units (negative: a refund, up to a full bucket)."""
        self._level = min(self.capacity, self._level - n)


def estimate_tokens(messages: list[dict[str, Any]], max_tokens: int, settings: RateLimitSettings) -> int:
    """Prompt tokens guessed from the messages' text and images, plus the completion's ``max_tokens``."""
    chars, images = 0, 0
    for message in messages:
        content = message["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for part in parts:
            if part.get("type") == "text":
                chars += len(part["text"])
            else:
                images += 1
    return int(chars / settings.chars_per_token) + images * settings.tokens_per_image + max_tokens


class RateLimiter:
    """The request and token buckets of one endpoint in this process (thread-safe: shared across event loops)."""

    def __init__(self, settings: RateLimitSettings):
        self.settings = settings
        share = settings.workers or 1

        def bucket(per_minute: float | None, least: float) -> Bucket | None:
            if per_minute is None:
                return None
            rate = per_minute / 60 / share
            return Bucket(rate, max(least, rate * settings.burst_s))

        self._requests = bucket(settings.requests_per_minute, 1)
        self._tokens = bucket(settings.tokens_per_minute, 0)
        self._lock = threading.Lock()

    async def acquire(self, tokens: int) -> float:
        """Take one request and ``tokens`` once both buckets hold them (sleeping meanwhile); the seconds slept."""
        needs = [(b, n) for b, n in ((self._requests, 1), (self._tokens, tokens)) if b is not None]
        waited = 0.0
        while True:
            with self._lock:
                wait = max(bucket.shortfall(n) for bucket, n in needs)
                if not wait:
                    for bucket, n in needs:
                        bucket.take(n)
                    return waited
            wait = min(wait, RECHECK_S)  # a refund meanwhile (a call that used less) lets it go sooner
            await asyncio.sleep(wait)
            waited += wait

    def correct(self, estimated: int, used: int) -> None:
        """Replace a call's estimated tokens by the ``used`` ones its response reported."""
        if self._tokens is not None:
            with self._lock:
                self._tokens.shortfall(0)
                self._tokens.take(used - estimated)


_LIMITERS: dict[tuple[str, str | None, str], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(backend: str, base_url: str | None, model: str, settings: RateLimitSettings | None) -> RateLimiter | None:
    """The process's limiter for ``model`` at ``base_url`` (None without limits): every section and DoFn calling
    that model there shares it, with the limits of the first to ask (a differing later one is warned about)."""
    if settings is None or (settings.requests_per_minute is None and settings.tokens_per_minute is None):
        return None
    key = (backend, base_url, model)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.setdefault(key, RateLimiter(settings))
    if limiter.settings != settings:
        log.warning("Rate limits for %s at %s differ between sections; using the first: %s", model, base_url,
                    limiter.settings)
    return limiter
