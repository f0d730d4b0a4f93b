"""A bare aiohttp client in the style of open-r1's ``generate_reasoning.py``.

One ``ClientSession`` with a connection limit, a semaphore of ``--concurrency`` requests, every
request a task, each completion appended to a JSONL file as it arrives (as open-r1 does).
"""
from __future__ import annotations

import asyncio
import json

import aiohttp
from common import Clock, arguments, load_requests, report


async def run(args, requests: list[dict]) -> tuple[int, int]:
    semaphore = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=3600)
    out = (args.work / "completions.jsonl").open("a")
    done = tokens = 0

    async def one(session: aiohttp.ClientSession, body: dict) -> None:
        nonlocal done, tokens
        async with semaphore, session.post(f"{args.base_url}/chat/completions", json={"model": args.model, **body}) as resp:
            resp.raise_for_status()
            result = await resp.json()
        out.write(json.dumps(result) + "\n")
        done += 1
        tokens += result["usage"]["completion_tokens"]

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one(session, body) for body in requests))
    out.close()
    return done, tokens


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0])
    requests = load_requests(args.requests)
    with Clock() as clock:
        done, tokens = asyncio.run(run(args, requests))
    report(len(requests), done, tokens, clock)


if __name__ == "__main__":
    main()
