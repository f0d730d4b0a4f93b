"""The judge and every length policy against the real vLLM-CPU teacher.

The judge's answers are constrained by vLLM's structured output, so they parse; a budget too
small for the JSON, or an endpoint that is down, leaves a recorded ``judge_error`` while the
problem flows on. Each policy runs the whole pipeline; the pass-rate run must escalate exactly
the problems whose probe did badly, and repairs may only appear where no sample was right.
"""
from __future__ import annotations

import math
from collections import defaultdict

import apache_beam as beam
import datasets
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from schemas.plan import Assessment
from transforms.assess import Assess, AssessSettings
from transforms.judge import Judge, JudgeSettings
from transforms.normalize import NormalizeProblems, NormalizeSettings
from transforms.sources import ReadProblems, SourceSettings
from transforms.synth import generate, write_jsonl
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings

pytestmark = pytest.mark.integration
N = 8


@pytest.fixture(scope="module")
def problems():
    return list(generate(N, seed=21, difficulty=(0.0, 0.5)))


def _judge(problems, vllm_server, tmp_path, settings: JudgeSettings, check, base_url: str | None = None) -> None:
    """Reads, normalizes, assesses and judges ``problems``; ``check`` asserts on the emitted assessments."""
    jsonl = write_jsonl(problems, tmp_path / "data")
    teacher = TeacherSettings(base_url=base_url or vllm_server.base_url, model=vllm_server.model, timeout_s=60,
                              max_attempts=2, max_backoff_s=0.5)
    with TestPipeline() as p:
        read = p | ReadProblems(SourceSettings(kind="jsonl", path=str(jsonl), name="synth"))
        normalized = read.rows | NormalizeProblems(NormalizeSettings())
        judged = (normalized.problems | Assess(AssessSettings())
                  | Judge(settings, Endpoint(teacher, str(tmp_path / "cache"))))
        assert_that(judged | beam.Map(lambda pair: pair[1]), check)


def test_judge_answers_are_schema_constrained_scores(problems, vllm_server, tmp_path):
    model = vllm_server.model

    def check(judged: list[Assessment]):
        assert len(judged) == N
        scored = [a for a in judged if a.judge_error is None]
        assert len(scored) >= N - 1, [a.judge_error for a in judged]
        for a in scored:
            assert all(s in (1.0, 2.0, 3.0, 4.0, 5.0) for s in (a.vision_score, a.text_score, a.integration_score))
            assert a.quality == pytest.approx((a.vision_score + a.text_score + a.integration_score) / 3)
            assert a.judge_model == model

    _judge(problems, vllm_server, tmp_path, JudgeSettings(), check)


def test_a_judgement_cut_off_or_unreachable_is_recorded_and_the_problem_flows(problems, vllm_server, tmp_path):
    def missing_because(prefix: str, n: int):
        def check(judged: list[Assessment]):
            assert len(judged) == n
            assert all(a.judge_error.startswith(prefix) and a.vision_score is None for a in judged), judged
        return check

    _judge(problems[:3], vllm_server, tmp_path / "cut", JudgeSettings(max_tokens=3, attempts=2),
           missing_because("malformed_judgement", 3))
    _judge(problems[:2], vllm_server, tmp_path / "down", JudgeSettings(), missing_because("teacher_connection_error", 2),
           base_url="http://127.0.0.1:9/v1")


def _run(tmp_path, vllm_server, problems, **sections):
    jsonl = write_jsonl(problems, tmp_path / "data")
    config = parse_config({
        "run": {"name": "policies", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "teacher": {"base_url": vllm_server.base_url, "model": vllm_server.model, "cache_url": str(tmp_path / "cache")},
        "verify": {"require_reasoning": False},
        **sections,
    })
    manifest = run_pipeline(config, [], command="pytest")
    assert manifest.counts.read == len(problems) and manifest.counts.balanced()
    return manifest, pq.read_table(tmp_path / "out" / "generations").to_pylist()


BANDS = [{"name": "easy", "max_difficulty": 0.25, "max_tokens": 64, "prompt_style": "concise"},
         {"name": "hard", "max_difficulty": 1.0, "max_tokens": 96, "prompt_style": "standard"}]


def test_token_budget_policy_end_to_end(tmp_path, vllm_server, problems):
    manifest, gens = _run(tmp_path, vllm_server, problems, length={"samples": 2, "bands": BANDS})
    assert len(gens) == 2 * (N - sum(manifest.counts.dead_lettered.values()))
    for g in gens:
        band = next(b for b in BANDS if b["name"] == g["sampling"]["band"])
        assert g["sampling"]["max_tokens"] == band["max_tokens"] and g["completion_tokens"] <= band["max_tokens"]
        assert g["sampling"]["policy"] == "token_budget" and g["difficulty"] <= band["max_difficulty"]


def test_drlc_policy_sets_each_problems_penalty_from_the_judge(tmp_path, vllm_server, problems):
    alpha = 0.4
    manifest, gens = _run(tmp_path, vllm_server, problems, judge={}, length={
        "policy": "r1v_drlc", "samples": 2, "bands": BANDS, "drlc": {"alpha": alpha}})
    assert gens and {g["sampling"]["policy"] for g in gens} == {"r1v_drlc"}
    penalties = {g["problem_id"]: g["sampling"]["repetition_penalty"] for g in gens}
    assert all(1.0 - 1e-9 <= p <= math.exp(alpha) + 1e-9 for p in penalties.values())
    if manifest.rows["preference"]:
        pref = datasets.load_dataset("parquet", data_files=str(tmp_path / "out" / "preference" / "*.parquet"),
                                     split="train", cache_dir=str(tmp_path / "hf"))
        assert {"messages", "chosen", "rejected", "images"} <= set(pref.column_names)


def test_pass_rate_policy_escalates_exactly_the_low_probes_and_repairs_only_failures(tmp_path, vllm_server, problems):
    probe = {"samples": 2, "escalate_below": 0.5, "extra_samples": 2, "budget_factor": 1.5}
    _, gens = _run(tmp_path, vllm_server, problems, length={"policy": "pass_rate", "bands": BANDS, "probe": probe},
                   repair={"enabled": True, "max_tokens": 96})
    by_problem = defaultdict(list)
    for g in gens:
        by_problem[g["problem_id"]].append(g)
    for pid, chains in by_problem.items():
        sampled = [g for g in chains if g["provenance"] == "teacher"]
        probe_chains = [g for g in sampled if g["sample_index"] < 2]
        later = [g for g in sampled if g["sample_index"] >= 2]
        assert [g["sampling"]["policy"] for g in probe_chains] == ["pass_rate", "pass_rate"], pid
        escalate = sum(g["verdict"]["correct"] for g in probe_chains) / 2 < 0.5
        assert len(later) == (2 if escalate else 0), pid
        assert all(g["sampling"]["policy"] == "pass_rate_escalated" and g["sampling"]["max_tokens"] ==
                   math.ceil(1.5 * probe_chains[0]["sampling"]["max_tokens"]) for g in later)
        repairs = [g for g in chains if g["provenance"] == "repair"]
        assert len(repairs) == (0 if any(g["verdict"]["correct"] for g in sampled) else 1), pid
        assert all(r["sample_index"] == len(sampled) for r in repairs)
