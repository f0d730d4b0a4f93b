"""A ZERO-LATENCY STUB of an OpenAI-compatible server, on loopback, for client-overhead benchmarks.

Every chat completion returns the same short chain and answer at once, once per sample asked (``n``,
each choice with its ``token_ids`` when asked for them), with token usage, so a benchmark measures
what the pipeline itself costs (Beam, the client, the cache, verify, write), never a model. Not a
teacher: its chains are right only by chance. ``GET /v1/stats`` says how many requests and samples it
served and how many request bytes it read.

    python3 -m benchmarks.stub_openai --port 18999
"""
from __future__ import annotations

import argparse
import json
from collections import Counter

from aiohttp import web

CHAIN = "<think>Count the marked items one by one, then check the count once more.</think> The answer is \\boxed{3}."
CHAIN_TOKENS = 24
STATS: Counter[str] = Counter()


async def _models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})


async def _stats(_request: web.Request) -> web.Response:
    return web.json_response(dict(STATS))


async def _chat(request: web.Request) -> web.Response:
    raw = await request.read()
    body = json.loads(raw)
    n = body.get("n") or 1
    STATS.update(requests=1, samples=n, request_bytes=len(raw))
    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
    ids = {"token_ids": list(range(CHAIN_TOKENS))} if body.get("return_token_ids") else {}
    return web.json_response({
        "id": "stub", "object": "chat.completion", "model": body.get("model", "stub"),
        "choices": [{"index": i, "message": {"role": "assistant", "content": CHAIN}, "finish_reason": "stop", **ids}
                    for i in range(n)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n * CHAIN_TOKENS,
                  "total_tokens": prompt_tokens + n * CHAIN_TOKENS},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 2**20)
    app.add_routes([web.get("/v1/models", _models), web.get("/v1/stats", _stats),
                    web.post("/v1/chat/completions", _chat)])
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
