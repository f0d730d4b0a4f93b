"""Free-form problems through the whole pipeline on the scripted teacher backend (DirectRunner):
without an answer judge, problems whose chains are all unverifiable are dropped as
``unverifiable``; with one, the judge's decisions are what selection keeps, and the accounting
holds both ways."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

N = 4
YES = '{"equivalent": true, "rationale": "Both say it rises."}'


@pytest.fixture(scope="module")
def free_form_source(tmp_path_factory):
    """Synthetic problems rewritten as free-form questions whose gold is ``increases``."""
    data = tmp_path_factory.mktemp("free-form")
    jsonl = write_jsonl(list(generate(N, seed=3)), data)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    rows = [{**r, "question": f"{r['question']} How does the trend change?", "answer": "increases",
             "answer_type": "free_form", "choices": []} for r in rows]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data, jsonl


def _run(root, jsonl, name: str, with_judge: bool):
    script = Script([Rule(Reply(YES), match="Candidate answer: it goes up")], default=Reply("Answer: it goes up"))
    model = scripted_settings(script).model
    config = parse_config({
        "run": {"name": name, "output_dir": str(root / name)},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "ff"},
        "length": {"samples": 2},
        "teacher": {"backend": "scripted", "model": model, "cache_url": str(root / f"cache-{name}")},
        "verify": {"require_reasoning": False, "min_chars": 1},
        **({"answer_judge": {}} if with_judge else {}),
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    table = lambda s: pq.read_table(root / name / s).to_pylist()  # noqa: E731
    return manifest, table, script, model


def test_unverifiable_problems_are_dropped_as_such_and_an_answer_judge_keeps_them(free_form_source):
    root, jsonl = free_form_source
    manifest, table, script, _ = _run(root, jsonl, "no-judge", with_judge=False)
    dropped = table("dropped")
    assert len(dropped) == N and {r["reason"] for r in dropped} == {"unverifiable"}
    assert "unverifiable×2" in dropped[0]["detail"] and manifest.counts.kept == 0
    assert all(g["verdict"]["unverifiable"] and g["verdict"]["judge_model"] is None for g in table("generations"))
    assert manifest.counts.balanced() and manifest.counts.dropped == {"select/unverifiable": N}
    assert (manifest.stats["chains_unverifiable"], manifest.stats["chains_judged"]) == (2 * N, 0)
    assert not any("Candidate answer" in t for t in script.texts())

    manifest, table, script, model = _run(root, jsonl, "judge", with_judge=True)
    assert manifest.counts.balanced() and manifest.counts.kept == N and manifest.counts.dropped == {}
    assert (manifest.stats["chains_unverifiable"], manifest.stats["chains_judged"]) == (0, 2 * N)
    assert len(table("sft")) == N
    verdicts = [g["verdict"] for g in table("generations")]
    assert len(verdicts) == 2 * N
    assert all(v["correct"] and v["decided_by"] == "judge" and v["judge_model"] == model for v in verdicts)
    # both chains of a problem send the judge the same prompt: when one call finishes before the other is asked, the
    # second is answered from the cache (a race), so calls sent plus cache hits make one decision per chain
    judged = manifest.metrics.stages["answer_judge"].counters
    assert sum("Candidate answer: it goes up" in t for t in script.texts()) + judged.get("cache_hits", 0) == 2 * N
