"""What every client runner shares: the request file, the CPU/wall clock, the one result line.

A runner reads requests (one JSON object a line: ``messages``, ``max_tokens``, ``temperature``,
``top_p``), sends them its own way, and prints one JSON line: requests sent, completions that
came back, completion tokens, wall seconds and CPU seconds (this process and its children)
spent on the work alone, after imports and set-up.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def arguments(description: str, *extra: tuple[str, dict]) -> argparse.Namespace:
    """The runners' shared options, and ``extra`` ones of a runner's own (name, ``add_argument`` keywords)."""
    parser = argparse.ArgumentParser(description=description)
    for name, options in extra:
        parser.add_argument(name, **options)
    parser.add_argument("--requests", type=Path, required=True, help="JSONL of request bodies")
    parser.add_argument("--base-url", required=True, help="OpenAI API root, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True)
    parser.add_argument("--concurrency", type=int, default=1000, help="requests in flight at most")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder (caches, outputs)")
    return parser.parse_args()


def load_requests(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Wall and CPU seconds between ``with`` entry and exit."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.monotonic(), _cpu()
        return self

    def __exit__(self, *_exc) -> None:
        self.wall, self.cpu = time.monotonic() - self.wall, _cpu() - self.cpu


def report(requests: int, completions: int, tokens: int, clock: Clock) -> None:
    print(json.dumps({"requests": requests, "completions": completions, "completion_tokens": tokens,
                      "seconds": round(clock.wall, 3), "cpu_seconds": round(clock.cpu, 3)}), flush=True)
