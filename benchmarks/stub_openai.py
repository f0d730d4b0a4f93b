"""A zero-latency stub of the OpenAI chat-completions API, for client-overhead benchmarks only.

It answers every ``POST /v1/chat/completions`` at once with the same short completion and a
``usage`` block (``max_tokens`` completion tokens, so token accounting has something to count),
and ``GET /v1/models`` with one model. It generates nothing: whatever a client spends against it
is the client's own cost. Run it in its own process::

    python3 benchmarks/stub_openai.py --port 18100
"""
from __future__ import annotations

import argparse
import itertools
import json

from aiohttp import web

MODEL = "stub-model"
_ids = itertools.count()


async def chat(request: web.Request) -> web.Response:
    body = await request.json()
    tokens = int(body.get("max_tokens") or 16)
    reply = {
        "id": f"stub-{next(_ids)}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", MODEL),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "<think>stub</think> \\boxed{1}"}}],
        "usage": {"prompt_tokens": 32, "completion_tokens": tokens, "total_tokens": 32 + tokens},
    }
    return web.Response(text=json.dumps(reply), content_type="application/json")


async def models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]})


def app() -> web.Application:
    application = web.Application(client_max_size=64 * 1024 * 1024)
    application.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18100)
    args = parser.parse_args()
    web.run_app(app(), host=args.host, port=args.port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
