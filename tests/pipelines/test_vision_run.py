"""A whole ``mmcot run`` on multi-image problems with the plumbing vision teacher, as ``make demo-vision`` runs it.

The launcher builds and serves the vision teacher itself (its own server: the earlier vision
modules' servers are stopped by then), limited to ``normalize.limits.max_images`` images per
prompt, and reads the limits from it. Synthetic problems with one and two images go through the
judge (with the pictures), generation, verification, the answer judge, repair and the scorer; one
problem whose question and images overflow the server's context is dead-lettered by the budget
before any request. The identity read = kept + dropped + dead-lettered must hold.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from pipelines.vision_teacher import IMAGE_SEQ_LEN, IMAGE_SIZE, VISION_MODEL_NAME, prepare_vision_teacher
from schemas.convert import from_table
from schemas.problem import Problem
from transforms.synth import generate, write_jsonl
from transforms.teachers.budget import LimitSettings, PromptBudget
from transforms.teachers.messages import build_messages, sent_image_sizes

pytestmark = pytest.mark.integration

N = 4


def test_a_run_on_multi_image_problems_balances_its_accounting(tmp_path):
    *problems, base = generate(N + 1, 11, ["compare_counts", "counting"], (0.0, 0.4))
    overflow = dataclasses.replace(base, id="synth-overflow", question="Count the shapes carefully. " * 500 + base.question)
    jsonl = write_jsonl([*problems, overflow], tmp_path / "data")
    config = parse_config({
        "run": {"name": "vision", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "normalize": {"limits": {"max_images": 2, "max_question_chars": 50000}},
        "judge": {},
        "length": {"policy": "r1v_drlc", "samples": 2,
                   "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 24, "prompt_style": "concise"}]},
        "teacher": {"model": VISION_MODEL_NAME, "modality": "vision", "cache_url": str(tmp_path / "cache")},
        "verify": {"require_reasoning": False},
        "answer_judge": {"max_tokens": 48},
        "repair": {"enabled": True, "max_tokens": 24},
        "scorer": {"chains": "decided"},
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    counts = manifest.counts
    assert counts.read == N + 1 and counts.balanced(), counts
    assert counts.dead_lettered == {"generate/teacher_over_context": 1}
    assert manifest.rows["generations"] >= 2 * N  # every problem that fits got its two chains (repairs add more)
    stages = manifest.metrics.stages
    # one request per problem for its two samples (n=2); the overflow prompt refused once, before any request
    assert stages["generate"].counters["requests"] == N and stages["generate"].counters["refused_over_context"] == 1
    judge = stages["judge"].counters
    assert judge["refused_over_context"] >= 1  # the judge skipped it too, unsent
    assert judge["requests"] >= N and judge["tokens_in"] > judge["requests"] * (IMAGE_SEQ_LEN + 3)  # pictures included
    out = Path(config.run.output_dir)
    kept = {x.id: x for x in from_table(Problem, pq.read_table(out / "problems")) if x.id != "synth/synth-overflow"}
    assert sorted(len(x.images) for x in kept.values()) == sorted(len(p.extra_images) + 1 for p in problems)
    assert any(len(x.images) == 2 for x in kept.values())
    budget = PromptBudget(LimitSettings(processor_path=str(prepare_vision_teacher())))
    gens = pq.read_table(out / "generations").to_pylist()
    assert {g["problem_id"] for g in gens} == set(kept)
    for g in gens:
        if g["provenance"] == "teacher":  # what the server counted is the budget's count, images included
            x = kept[g["problem_id"]]
            messages = build_messages(x, g["sampling"]["prompt_style"], "vision")
            sizes = sent_image_sizes(messages, x, IMAGE_SIZE)
            assert g["prompt_tokens"] == budget.prompt_tokens(messages, sizes), g["problem_id"]
            assessment = g["assessment"]  # the judge saw the pictures; an untrained tower may ramble past its budget
            assert assessment["judge_model"] == VISION_MODEL_NAME
            if assessment["judge_error"] is None:
                assert 0.0 <= assessment["vision_score"] <= 1.0  # S_v, normalized over the run
            else:
                assert assessment["judge_error"].startswith("malformed_judgement"), assessment["judge_error"]
