"""A whole run on the scripted teacher: Beam's counters reach the manifest and the summary, and agree with the files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import parse_config
from pipelines.metrics import bucket_quantile, query_metrics
from pipelines.run import run_pipeline
from pipelines.summary import summary_table
from schemas.stages import STAGES
from transforms.synth import generate as generate_problems
from transforms.synth import write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

N, SAMPLES = 8, 2


def _reply(answer: str, **fields) -> Reply:
    return Reply(f"<think>Looking at the picture carefully, I count and compare.</think> The answer is \\boxed{{{answer}}}.",
                 **fields)


@pytest.fixture
def scripted_run(tmp_path):
    """The sample flow on 8 synthetic problems: one always wrong, one with a failing sample, one retried, one slow."""
    problems = list(generate_problems(N, seed=3))
    assert len({p.caption for p in problems}) == N  # each problem's prompt is told apart by its caption
    wrong, failing, retried, slow = problems[1], problems[2], problems[3], problems[4]
    rules = [Rule(_reply("no idea"), match=wrong.caption),
             Rule(Reply(fail="http_500"), match=failing.caption, sample=1),
             Rule(_reply(retried.answer, retries=1), match=retried.caption),
             Rule(_reply(slow.answer, delay_s=0.3), match=slow.caption)]
    rules += [Rule(_reply(p.answer, delay_s=0.01), match=p.caption) for p in problems]
    script = Script(rules, default=None)
    scripted_settings(script, name="metrics-teacher")
    teacher = {"backend": "scripted", "model": "metrics-teacher"}
    jsonl = write_jsonl(problems, tmp_path / "data")

    def run(out: str):
        config = parse_config({
            "run": {"name": "metrics", "output_dir": str(tmp_path / out)},
            "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
            "length": {"samples": SAMPLES, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 64}]},
            "teacher": {**teacher, "cache_url": str(tmp_path / "cache")},
        })
        return run_pipeline(config, ["--runner", "direct"], command="pytest"), script

    return run


def test_per_stage_counters_reach_the_manifest_and_match_the_files(scripted_run, tmp_path):
    manifest, script = scripted_run("first")
    metrics = manifest.metrics
    assert metrics.available and "DirectRunner" in metrics.note
    stage = {name: s.counters for name, s in metrics.stages.items()}
    assert stage["read"] == {"files": 1, "rows": N}
    planned = stage["plan"]["problems"]
    assert planned == N - sum(v for k, v in manifest.counts.dropped.items() if k.startswith("dedup/"))
    assert stage["plan"]["samples"] == SAMPLES * planned and stage["plan"]["band_all"] == planned
    assert stage["assess"]["problems"] == planned

    generate = stage["generate"]
    assert (generate["in"], generate["out"], generate["failed"]) == (planned, planned - 1, 1)
    assert generate["failed_teacher_http_500"] == generate["dead_letter_teacher_http_500"] == 1
    assert generate["cache_misses"] == SAMPLES * planned and generate["requests"] == SAMPLES * planned - 1
    assert generate["requests"] == len(script.calls) - 1 and generate["retries"] == SAMPLES
    # tokens paid for include the failed problem's one answered sample, which no output row holds
    failed_sample = _reply(list(generate_problems(N, seed=3))[2].answer)
    assert generate["tokens_out"] == manifest.stats["completion_tokens"] + len(failed_sample.content.split())
    assert generate["tokens_in"] == manifest.stats["prompt_tokens"] + failed_sample.prompt_tokens

    assert stage["select"]["kept"] == manifest.counts.kept
    assert stage["select"]["dropped_no_correct_chain"] == manifest.counts.dropped["select/no_correct_chain"] >= 1
    for name, rows in manifest.rows.items():
        assert stage["write"].get(f"{name}_rows", 0) == rows, name
    assert stage["write"]["read_counts_rows"] == 1
    assert set(stage) <= {s.name for s in STAGES}  # every namespace is a stage of the table, listed in flow order
    assert list(stage) == [s.name for s in STAGES if s.name in stage]

    latency = metrics.stages["generate"].latency
    assert latency.count == generate["requests"] and latency.max_ms >= 300
    # 2 of the requests took 300 ms (bucket 200-500 ms), the others about 10 ms (bucket up to 50 ms)
    assert latency.min_ms <= latency.p50_ms <= 50 and 200 <= latency.p90_ms <= latency.p99_ms <= latency.max_ms

    on_disk = json.loads((Path(tmp_path) / "first" / "manifest.json").read_text())
    assert on_disk["metrics"]["stages"]["generate"]["counters"]["requests"] == generate["requests"]
    table = summary_table(manifest)
    assert f"requests {generate['requests']}" in table and "latency ms: p50" in table
    assert table.index("  read ") < table.index("  generate ") < table.index("  write ")


def test_a_rerun_counts_cache_hits_and_sends_nothing_new(scripted_run):
    first, script = scripted_run("first")
    calls = len(script.calls)
    again, _ = scripted_run("again")
    generate = again.metrics.stages["generate"].counters
    samples = first.metrics.stages["plan"].counters["samples"]
    assert generate["cache_hits"] == samples - 1 and generate.get("requests", 0) == 0
    assert len(script.calls) == calls + 1  # only the sample that failed is asked again (and fails again)
    assert again.metrics.stages["generate"].latency is None


class _NoMetrics:
    def metrics(self):
        raise NotImplementedError("collecting metrics will come later!")


def test_a_runner_without_metrics_is_named_in_the_summary():
    metrics = query_metrics(_NoMetrics(), "DaskRunner")
    assert not metrics.available and metrics.stages == {}
    from pipelines.summary import metrics_lines

    assert metrics_lines(metrics) == "stage metrics: not available (DaskRunner does not report Beam metrics)"


def test_bucket_quantiles_interpolate_inside_their_bucket_and_stay_in_range():
    buckets = {50.0: 8, 200.0: 0, 500.0: 2}  # 8 requests up to 50 ms, 2 between 200 and 500 ms
    assert bucket_quantile(buckets, 0.5, low=10, high=400) == pytest.approx(10 + 40 * 5 / 8)
    assert bucket_quantile(buckets, 0.9, low=10, high=400) == pytest.approx(200 + 200 * 1 / 2)
    assert bucket_quantile({float("inf"): 3}, 0.99, low=700_000, high=900_000) <= 900_000


class _BrokenMetrics:
    def metrics(self):
        raise ConnectionError("monitoring service unreachable")


def test_a_failing_metrics_query_is_reported_not_raised():
    metrics = query_metrics(_BrokenMetrics(), "DataflowRunner")
    assert not metrics.available and "DataflowRunner" in metrics.note and "ConnectionError" in metrics.note
