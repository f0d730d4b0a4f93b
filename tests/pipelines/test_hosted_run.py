"""A whole run the hosted way, on loopback stubs: the teacher online under a rate limit (the RATE-LIMITED STUB),
the judge in batch mode (the Files + Batches STUB), both priced; the run's cost and waits reach the summary,
manifest and card, and every problem is accounted for."""
from __future__ import annotations

import json

import pytest

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from pipelines.summary import summary_table
from tests.support.batch_api_stub import BatchAPIStub
from tests.support.rate_limited_stub import RateLimitedStub
from transforms.synth import generate as generate_problems
from transforms.synth import write_jsonl

N, SAMPLES, RPM, TPM = 6, 2, 240, 60_000


def test_a_hosted_run_with_a_batch_judge_and_a_limited_priced_teacher(tmp_path):
    jsonl = write_jsonl(list(generate_problems(N, seed=5)), tmp_path / "data")
    with RateLimitedStub(RPM, TPM, burst_s=2.0) as teacher, BatchAPIStub(in_progress_polls=1) as judge:
        config = parse_config({
            "run": {"name": "hosted", "output_dir": str(tmp_path / "out")},
            "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
            "assess": {"difficulty_from": "judge"},
            "judge": {"endpoint": {"backend": "openai_batch", "base_url": judge.base_url, "model": "stub-judge",
                                   "batch": {"linger_s": 0.5, "poll_s": 0.1},
                                   "price": {"input_per_million": 1.25, "output_per_million": 5.0}}},
            "length": {"samples": SAMPLES, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 32}]},
            "teacher": {"base_url": teacher.base_url, "model": "stub-teacher", "cache_url": str(tmp_path / "cache"),
                        "rate_limit": {"requests_per_minute": RPM, "tokens_per_minute": TPM},
                        "price": {"input_per_million": 2.0, "output_per_million": 8.0}},
        })
        manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    assert manifest.counts.balanced() and manifest.counts.read == N
    assert teacher.counts["refused_429"] == 0 and teacher.counts["served"] == N  # a problem's samples in one request
    assert teacher.counts["samples"] == N * SAMPLES
    assert judge.counts["batches"] >= 1 and judge.counts["uploads"] == judge.counts["batches"]
    judged = sum(len(judge.files[b["input_file_id"]].splitlines()) for b in judge.batches.values())
    assert judged == N and judge.counts["online"] == 0
    stages = manifest.metrics.stages
    assert stages["generate"].counters["rate_limited"] > 0 and "rate_limited" not in stages["judge"].counters
    teacher_usd = (teacher.counts["prompt_tokens"] * 2.0 + teacher.counts["completion_tokens"] * 8.0) / 1e6
    judge_usd = (judge.counts["prompt_tokens"] * 1.25 + judge.counts["completion_tokens"] * 5.0) / 1e6
    assert manifest.cost.stages["generate"].cost_usd == pytest.approx(teacher_usd, rel=1e-12)
    assert manifest.cost.stages["judge"].cost_usd == pytest.approx(judge_usd, rel=1e-12)
    assert manifest.cost.cost_usd == pytest.approx(teacher_usd + judge_usd, rel=1e-12)
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["cost"]["stages"]["judge"]["cost_usd"] == pytest.approx(judge_usd, rel=1e-12)
    table = summary_table(manifest)
    assert "waiting on rate limits" in table and "cost of new calls / saved by cache" in table
    assert f"- Cost at the configured prices: ${teacher_usd + judge_usd:,.6f}" in (tmp_path / "out" / "README.md").read_text()
