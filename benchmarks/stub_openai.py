"""A ZERO-LATENCY STUB of an OpenAI-compatible server, on loopback, for client-overhead benchmarks.

Every chat completion returns the same short chain and answer at once, once per sample asked (``n``,
each choice with its ``token_ids`` when asked for them), with token usage, so a benchmark measures
what the pipeline itself costs (Beam, the client, the cache, verify, write), never a model. Not a
teacher: its chains are right only by chance. ``GET /v1/stats`` says how many requests and samples it
served and how many request bytes it read.

With ``--answers FILE`` (the JSONL of ``mmcot synth``: each row's ``caption`` and ``answer``) it
answers a text-teacher prompt whose image description is a known caption right on the first ask and
wrong on the second, and so on alternately: every such problem gets a pass rate of 1/2 at k=2, so it
is kept and also gives an RL row and a preference pair (every output set gets rows). Still a stub:
the answer is looked up, not worked out.

    python3 -m benchmarks.stub_openai --port 18999 [--answers data/problems.jsonl]
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from aiohttp import web

CHAIN = "<think>Count the marked items one by one, then check the count once more.</think> The answer is \\boxed{3}."
CHAIN_TOKENS = 24
STATS: Counter[str] = Counter()


async def _models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})


async def _stats(_request: web.Request) -> web.Response:
    return web.json_response(dict(STATS))


ANSWERS: dict[str, str] = {}  # caption -> gold answer (--answers)
ASKED: Counter[str] = Counter()
CAPTION = re.compile(r"Image description: (.*?)(?:\n\n|$)", re.S)


def _reply(messages: list[dict]) -> str:
    """The chain: a known caption's gold on every other ask of it (first ask right), else the fixed chain."""
    text = "\n".join(m["content"] for m in messages if isinstance(m.get("content"), str))
    found = CAPTION.search(text)
    gold = ANSWERS.get(found.group(1)) if found else None
    if gold is None:
        return CHAIN
    ASKED[found.group(1)] += 1
    answer = gold if ASKED[found.group(1)] % 2 else "not the answer"
    return f"<think>Count the marked items one by one, then check the count once more.</think> The answer is \\boxed{{{answer}}}."


async def _chat(request: web.Request) -> web.Response:
    raw = await request.read()
    body = json.loads(raw)
    n = body.get("n") or 1
    STATS.update(requests=1, samples=n, request_bytes=len(raw))
    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
    ids = {"token_ids": list(range(CHAIN_TOKENS))} if body.get("return_token_ids") else {}
    return web.json_response({
        "id": "stub", "object": "chat.completion", "model": body.get("model", "stub"),
        "choices": [{"index": i, "message": {"role": "assistant", "content": _reply(body.get("messages", []))},
                     "finish_reason": "stop", **ids} for i in range(n)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n * CHAIN_TOKENS,
                  "total_tokens": prompt_tokens + n * CHAIN_TOKENS},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answers", type=Path, help="JSONL with caption and answer per row (mmcot synth's problems.jsonl)")
    args = parser.parse_args()
    if args.answers:
        for line in args.answers.read_text().splitlines():
            row = json.loads(line)
            ANSWERS[row["caption"]] = str(row["answer"])
    app = web.Application(client_max_size=64 * 2**20)
    app.add_routes([web.get("/v1/models", _models), web.get("/v1/stats", _stats),
                    web.post("/v1/chat/completions", _chat)])
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
