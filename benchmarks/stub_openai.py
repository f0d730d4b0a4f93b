"""A ZERO-LATENCY STUB of an OpenAI-compatible server, on loopback, for client-overhead benchmarks.

Every chat completion returns the same short chain and answer at once, with token usage, so a
benchmark measures what the pipeline itself costs (Beam, the client, the cache, verify, write),
never a model. Not a teacher: its chains are right only by chance.

    python3 -m benchmarks.stub_openai --port 18999
"""
from __future__ import annotations

import argparse
import json

from aiohttp import web

CHAIN = "<think>Count the marked items one by one, then check the count once more.</think> The answer is \\boxed{3}."


async def _models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})


async def _chat(request: web.Request) -> web.Response:
    body = await request.json()
    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
    return web.json_response({
        "id": "stub", "object": "chat.completion", "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": CHAIN}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 24, "total_tokens": prompt_tokens + 24},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 2**20)
    app.add_routes([web.get("/v1/models", _models), web.post("/v1/chat/completions", _chat)])
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
