"""A RATE-LIMITED STUB of an OpenAI-compatible chat server on loopback, for rate-limit tests.

It refuses, as a hosted provider does, with 429 and ``Retry-After`` any request above
``requests_per_minute`` or ``tokens_per_minute``: each limit is a bucket refilled continuously that
holds ``burst_s`` seconds' worth. A request for ``n`` samples is admitted when its prompt tokens plus
``n`` times its ``max_tokens`` fit in the token bucket, and then charged the tokens it used (the prompt
once, every sample's completion); each choice carries its ``token_ids`` when asked to.
Its tokenizer is not the client's (a token is ``CHARS_PER_TOKEN`` characters of message text), and
every reply is a short fixed chain, so a client that does not correct its estimate by the usage
returned is slower than it needs to be. Not a teacher: no model behind it.
"""
from __future__ import annotations

import time
from collections import Counter

from aiohttp import web

from tests.support.loopback_app import LoopbackApp

CHARS_PER_TOKEN = 5
REPLY = "<think>Three dots, counted.</think> \\boxed{3}"
REPLY_TOKENS = 8


class _Bucket:
    def __init__(self, per_minute: float, burst_s: float):
        self.rate = per_minute / 60
        self.capacity = self.rate * burst_s
        self.level = self.capacity
        self._at = time.monotonic()

    def refill(self) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._at) * self.rate)
        self._at = now
        return self.level


class RateLimitedStub(LoopbackApp):
    """``with RateLimitedStub(rpm, tpm, burst_s) as stub: stub.base_url``; ``stub.counts`` says what it did."""

    def __init__(self, requests_per_minute: float, tokens_per_minute: float, burst_s: float = 2.0):
        self._requests = _Bucket(requests_per_minute, burst_s)
        self._tokens = _Bucket(tokens_per_minute, burst_s)
        self.counts: Counter[str] = Counter()
        self.arrivals: list[float] = []

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = "".join(m["content"] if isinstance(m["content"], str) else "".join(p.get("text", "") for p in m["content"])
                       for m in body["messages"])
        prompt_tokens = len(text) // CHARS_PER_TOKEN
        n = body.get("n", 1)
        if self._requests.refill() < 1 or self._tokens.refill() < prompt_tokens + n * body["max_tokens"]:
            self.counts["refused_429"] += 1
            return web.Response(status=429, text="rate limit reached", headers={"Retry-After": "1"})
        each = min(REPLY_TOKENS, body["max_tokens"])
        completion_tokens = n * each
        self._requests.level -= 1
        self._tokens.level -= prompt_tokens + completion_tokens
        self.counts["served"] += 1
        self.counts["samples"] += n
        self.counts["prompt_tokens"] += prompt_tokens
        self.counts["completion_tokens"] += completion_tokens
        self.arrivals.append(time.monotonic())
        return web.json_response({
            "id": "stub", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": i, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop",
                         **({"token_ids": [0] * each} if body.get("return_token_ids") else {})} for i in range(n)],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
