"""A fault-injection proxy for tests: sits on loopback in front of a real OpenAI-compatible server.

For a configurable share of requests it answers 500 or 503, answers 429 with ``Retry-After``,
stalls past the client's timeout, or drops the connection without a response; every other
request is forwarded unchanged. It counts what it did, how many requests reached upstream
(``counts["forwarded"]``) and how many samples they asked for (``samples``: the sum of their ``n``).
"""
from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import httpx
from aiohttp import web

from tests.support.loopback_app import LoopbackApp

FAULTS = ("http_500", "http_503", "http_429", "stall", "drop")


class FaultProxy(LoopbackApp):
    """Run with ``with FaultProxy(upstream, rate=0.3) as proxy: proxy.base_url``."""

    def __init__(self, upstream: str, rate: float, stall_s: float, seed: int = 0):
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.stall_s = stall_s
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._rng = random.Random(seed)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = self._rng.choice(FAULTS) if self._rng.random() < self.rate else None
        self.counts[fault or "forwarded"] += 1
        if fault in ("http_500", "http_503"):
            return web.Response(status=int(fault[-3:]), text="injected fault")
        if fault == "http_429":
            return web.Response(status=429, text="slow down", headers={"Retry-After": "0.2"})
        if fault == "stall":
            await asyncio.sleep(self.stall_s)
            return web.Response(status=504, text="stalled")
        if fault == "drop":
            request.transport.close()
            return web.Response(status=500)
        self.samples += json.loads(body).get("n", 1)
        async with httpx.AsyncClient(timeout=None) as client:
            upstream = await client.post(f"{self.upstream}{request.path.removeprefix('/v1')}", content=body,
                                         headers={"Content-Type": "application/json"})
        return web.Response(status=upstream.status_code, body=upstream.content, content_type="application/json")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._handle)
