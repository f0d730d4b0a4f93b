"""Generated tokens/s of the teacher paths on identical prompts and sampling.

(a) vLLM offline: one ``LLM.chat`` call over every request, in this process (the engine's own
    limit), run first and again last so drift in the machine's load shows; the reference is
    the mean of the two; (b0) a bare asyncio client with every request in flight against the
    vLLM server (the server's own limit: b/b0 is what the pipeline costs); (b) the mmcot
    Generate stage in a Beam pipeline on DirectRunner against the same server (fresh response
    cache, so nothing is cached); (c) a naive client sending one request at a time (on the first
    ``--naive-requests`` requests: it is slow). Optionally (d) the same pipeline on the
    in-process engine backend (``--engine-pipeline``; the engine is loaded before timing, as in (a)).

Each server path starts with an empty prefix cache (vLLM's dev-mode ``/reset_prefix_cache``),
as each offline run does, so no path is served prompts an earlier path already computed.

Every path samples the same N synthetic problems x k samples with the same settings (text
prompts: caption + question, fixed ``max_tokens``, temperature, top_p). The default is greedy
decoding (temperature 0), so every path generates the same chains and the token counts match:
with sampling, paths differ in how many chains stop early, and a batch that empties early runs
slower, which moves tokens/s by more than the differences being measured. Prints tokens/s for
each and the ratios b/a, b/b0, c/a. Run from the repository root, with nothing else using the cores::

    PYTHONPATH=. python3 benchmarks/teacher_throughput.py [--n 64] [--samples 2] [--max-tokens 128]
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.vllm_server import VllmServer
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import Problem
from transforms.generate import GenerateChains
from transforms.synth import generate
from transforms.teachers.engine_inputs import sampling_params
from transforms.teachers.messages import build_messages
from transforms.teachers.openai_http import OpenAIChatTeacher
from transforms.teachers.registry import Endpoint
from transforms.teachers.reply_gate import completions_from_body
from transforms.teachers.settings import TeacherSettings
from transforms.teachers.vllm_engine import load_engine, shared_engine


@dataclasses.dataclass
class Result:
    """One path's run: requests sent, completion tokens generated, wall seconds."""

    path: str
    requests: int
    tokens: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def planned_problems(n: int, plan: SamplingPlan) -> list[PlannedProblem]:
    """N synthetic problems as the text teacher sees them (caption + question), all under ``plan``."""
    out = []
    for s in generate(n, seed=0):
        p = Problem(id=f"synth/{s.id}", source="synth", split="train", question=s.question, answer=s.answer,
                    answer_type=s.answer_type, choices=s.choices, subject=s.subject, caption=s.caption)
        out.append(PlannedProblem(problem=p, assessment=Assessment(p.id, s.difficulty, "metadata"), plan=plan))
    return out


def requests_of(planned: list[PlannedProblem]) -> list[list[dict]]:
    """One conversation per sample: each problem's messages ``n`` times."""
    return [build_messages(pp.problem, pp.plan.prompt_style, "text") for pp in planned for _ in range(pp.plan.n)]


def offline(label: str, settings: TeacherSettings, conversations: list[list[dict]], plan: SamplingPlan) -> Result:
    """(a) every request in one ``LLM.chat`` call, timed after a warm-up call."""
    llm = load_engine(settings.engine, settings.seed)
    params = [sampling_params(plan, None, None) for _ in conversations]
    llm.chat(conversations[:4], sampling_params=params[:4], use_tqdm=False)
    llm.reset_prefix_cache()
    started = time.monotonic()
    outputs = llm.chat(conversations, sampling_params=params, use_tqdm=False)
    seconds = time.monotonic() - started
    llm.llm_engine.engine_core.shutdown()
    return Result(label, len(outputs), sum(len(o.outputs[0].token_ids) for o in outputs), seconds)


def pipeline(label: str, settings: TeacherSettings, base_url: str | None, planned: list[PlannedProblem]) -> Result:
    """(b)/(d) the Generate stage on DirectRunner, timed over the whole run; tokens from its fresh response cache."""
    started = time.monotonic()
    with beam.Pipeline(runner="DirectRunner") as p:
        _ = p | beam.Create(planned) | GenerateChains(Endpoint(settings.model_copy(update={"base_url": base_url}), settings.cache_url))
    seconds = time.monotonic() - started
    entries = [json.loads(f.read_text()) for f in Path(settings.cache_url).rglob("*.json")]
    return Result(label, len(entries), sum(e["completion_tokens"] for e in entries), seconds)


def bare_async(settings: TeacherSettings, base_url: str, conversations: list[list[dict]], plan: SamplingPlan) -> Result:
    """(b0) every request in flight at once from a bare asyncio client."""
    bodies = [OpenAIChatTeacher(settings.model_copy(update={"base_url": base_url})).request_body(c, plan) for c in conversations]

    async def send_all(client: httpx.AsyncClient) -> list[int]:
        async def one(body: dict) -> int:
            response = await client.post("/chat/completions", json=body)
            response.raise_for_status()
            return completions_from_body(response.json(), 0)[0].completion_tokens
        return await asyncio.gather(*(one(b) for b in bodies))

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=base_url, timeout=settings.timeout_s, limits=limits) as client:
            return await send_all(client)

    started = time.monotonic()
    tokens = asyncio.run(run())
    return Result("b0 bare async client, server", len(bodies), sum(tokens), time.monotonic() - started)


def naive(settings: TeacherSettings, base_url: str, conversations: list[list[dict]], plan: SamplingPlan) -> Result:
    """(c) one request at a time with a synchronous client."""
    bodies = [OpenAIChatTeacher(settings.model_copy(update={"base_url": base_url})).request_body(c, plan) for c in conversations]
    tokens = 0
    with httpx.Client(base_url=base_url, timeout=settings.timeout_s) as client:
        started = time.monotonic()
        for body in bodies:
            response = client.post("/chat/completions", json=body)
            response.raise_for_status()
            tokens += completions_from_body(response.json(), 0)[0].completion_tokens
        seconds = time.monotonic() - started
    return Result("c naive sequential", len(bodies), tokens, seconds)


def warm_up(base_url: str, conversation: list[dict]) -> None:
    """One short request, so the server's first-request costs are not timed."""
    body = {"model": EMBEDDED_MODEL_NAME, "messages": conversation, "max_tokens": 8}
    httpx.post(f"{base_url}/chat/completions", json=body, timeout=300).raise_for_status()


def reset_prefix_cache(base_url: str) -> None:
    """Empty the server's prefix cache (a dev-mode endpoint), so no path reuses an earlier path's prompts."""
    httpx.post(f"{base_url.removesuffix('/v1')}/reset_prefix_cache", timeout=60).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=64, help="synthetic problems")
    parser.add_argument("--samples", type=int, default=2, help="samples per problem (k)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy, the same work on every path")
    parser.add_argument("--max-in-flight", type=int, default=256, help="teacher.max_in_flight for (b) and (d)")
    parser.add_argument("--naive-requests", type=int, default=16, help="requests the naive client sends")
    parser.add_argument("--engine-pipeline", action="store_true", help="also run (d): the pipeline on the in-process engine")
    parser.add_argument("--server-arg", action="append", default=[], help="extra vLLM server argument (repeatable)")
    args = parser.parse_args()

    plan = SamplingPlan(n=args.samples, max_tokens=args.max_tokens, temperature=args.temperature, top_p=0.95,
                        repetition_penalty=1.0, prompt_style="standard", length_budget=args.max_tokens,
                        policy="benchmark", band="all")
    planned = planned_problems(args.n, plan)
    conversations = requests_of(planned)
    model_dir = prepare_embedded_teacher()
    work = Path(tempfile.mkdtemp(prefix="mmcot-teacher-bench-"))
    settings = TeacherSettings(model=EMBEDDED_MODEL_NAME, max_in_flight=args.max_in_flight,
                               engine={"model_path": str(model_dir)}, cache_url=str(work / "cache-b"))
    print(f"{args.n} problems x {args.samples} samples = {len(conversations)} requests, max_tokens {args.max_tokens}, "
          f"temperature {args.temperature}, max_in_flight {args.max_in_flight}", flush=True)

    results = [offline("a offline LLM.chat", settings, conversations, plan)]
    print(results[-1], flush=True)
    os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # for /reset_prefix_cache: each path starts with an empty prefix cache
    with VllmServer(model_dir, EMBEDDED_MODEL_NAME, extra_args=args.server_arg, log_path=work / "server.log") as server:
        warm_up(server.base_url, conversations[0])
        reset_prefix_cache(server.base_url)
        results.append(bare_async(settings, server.base_url, conversations, plan))
        print(results[-1], flush=True)
        reset_prefix_cache(server.base_url)
        results.append(pipeline("b pipeline, server", settings, server.base_url, planned))
        print(results[-1], flush=True)
        reset_prefix_cache(server.base_url)
        results.append(naive(settings, server.base_url, conversations[:args.naive_requests], plan))
        print(results[-1], flush=True)
    if args.engine_pipeline:
        engine = settings.model_copy(update={"backend": "vllm", "cache_url": str(work / "cache-d")})
        started = time.monotonic()
        loop = shared_engine(engine)  # loaded before timing, like (a); the pipeline's workers get this one
        print(f"in-process engine loaded in {time.monotonic() - started:.0f} s (not timed)", flush=True)
        results.append(pipeline("d pipeline, in-process engine", engine, None, planned))
        print(results[-1], flush=True)
        loop.close()
    results.append(offline("a' offline LLM.chat, again", settings, conversations, plan))
    print(results[-1], flush=True)
    report(results)


def report(results: list[Result]) -> None:
    """The table, ratios against the mean of the two offline runs, and the ratios as one JSON line."""
    rate = {r.path.split()[0]: r.rate for r in results}
    a = (rate["a"] + rate["a'"]) / 2
    print(f"\n{'path':<34}{'requests':>9}{'tokens':>9}{'seconds':>9}{'tok/s':>9}{'x a':>7}")
    for r in results:
        print(f"{r.path:<34}{r.requests:>9}{r.tokens:>9}{r.seconds:>9.1f}{r.rate:>9.1f}{r.rate / a:>7.2f}")
    ratios = {"b/a": rate["b"] / a, "b/b0": rate["b"] / rate["b0"], "c/a": rate["c"] / a,
              "a'/a": rate["a'"] / rate["a"], **({"d/a": rate["d"] / a} if "d" in rate else {})}
    print(json.dumps({k: round(v, 3) for k, v in ratios.items()}))


if __name__ == "__main__":
    main()
