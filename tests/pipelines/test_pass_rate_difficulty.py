"""``assess.difficulty_from: pass_rate``: after the first samples are verified the difficulty is 1 - pass rate
(source ``pass_rate``), the plan moves to that difficulty's band, and length-fit selection aims at its target."""
from __future__ import annotations

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from tests.pipelines.test_config import MINIMAL
from tests.support.factories import PLAN, chains, generation
from transforms.length import LengthSettings, ReplanFromPassRate, replanned
from transforms.select import SelectChains, SelectSettings
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

BANDS = LengthSettings().bands  # easy <= 0.34 (256 tokens), medium <= 0.67 (512), hard (1024)


def _item(marks):
    """Chains of (correct, tokens, unverifiable) on the factories' easy plan (difficulty 0.3, budget 64)."""
    gens = [generation(i, ok, tokens, reasons=["unverifiable"] if unv else None) for i, (ok, tokens, unv) in enumerate(marks)]
    return chains(gens)


def test_the_pass_rate_sets_the_difficulty_and_moves_the_plan_to_its_band():
    item = _item([(True, 70, False), (False, 80, False), (False, 90, False), (False, 95, True)])  # 1 of 3 decided right
    out = replanned(item, BANDS)
    a = out.planned.assessment
    assert (round(a.difficulty, 4), a.difficulty_source) == (round(1 - 1 / 3, 4), "pass_rate")
    assert (out.planned.plan.band, out.planned.plan.max_tokens, out.planned.plan.length_budget,
            out.planned.plan.prompt_style) == ("medium", 512, 256, "standard")
    assert all(g.assessment == a and g.difficulty == a.difficulty for g in out.generations)
    assert [g.sampling for g in out.generations] == [PLAN] * 4  # as sampled
    assert out.planned.plan.n == PLAN.n and out.planned.plan.first_sample == PLAN.first_sample
    assert replanned(_item([(True, 10, False), (True, 12, False)]), BANDS).planned.plan.band == "easy"  # 0.0: easiest


def test_a_problem_with_no_decided_sample_keeps_its_prior():
    item = _item([(False, 40, True), (False, 50, True)])
    assert replanned(item, BANDS) == item


def test_length_fit_selection_follows_the_band_the_pass_rate_chose():
    item = _item([(True, 70, False), (True, 250, False), (False, 80, False), (False, 60, False)])  # 0.5: medium, 256
    with TestPipeline() as p:
        items = p | beam.Create([item])
        before = (items | "SelectPrior" >> SelectChains(SelectSettings())).sft | "PriorTokens" >> beam.Map(lambda r: r.completion_tokens)
        after = (items | ReplanFromPassRate(LengthSettings()) | "SelectPassRate" >> SelectChains(SelectSettings())).sft
        assert_that(before, equal_to([70]), label="prior")  # the prior plan's budget is 64
        assert_that(after | beam.Map(lambda r: (r.completion_tokens, r.difficulty, r.assessment.difficulty_source)),
                    equal_to([(250, 0.5, "pass_rate")]), label="pass_rate")


def test_the_config_takes_pass_rate_as_a_difficulty_source():
    config = parse_config({**MINIMAL, "assess": {"difficulty_from": "pass_rate"}, "length": {"policy": "pass_rate"}})
    assert config.assess.difficulty_from == "pass_rate"



def test_a_run_with_the_pass_rate_policy_follows_the_probes_pass_rate(tmp_path):
    problems = list(generate(4, seed=11))
    solved = problems[0]  # solved on every sample; the others never
    script = Script([Rule(Reply(f"Reading the chart, the answer is \\boxed{{{solved.answer}}}"), match=solved.caption)],
                    default=Reply("I think \\boxed{-1}"))
    config = parse_config({
        "run": {"name": "pr", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(write_jsonl(problems, tmp_path / "data")), "name": "synth"},
        "dedup": {"near_text": {"enabled": False}},
        "assess": {"difficulty_from": "pass_rate"},
        "length": {"policy": "pass_rate", "probe": {"samples": 2, "extra_samples": 2}},
        "teacher": {"backend": "scripted", "model": scripted_settings(script).model, "cache_url": str(tmp_path / "cache")},
        "verify": {"require_reasoning": False},
        "output": {"trainers": ["verl", "llamafactory"]},
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    gens = pq.read_table(tmp_path / "out" / "generations").to_pylist()
    assert manifest.counts.balanced() and manifest.rows["problems"] == 4
    by_problem = {}
    for g in gens:
        by_problem.setdefault(g["problem_id"], []).append(g)
    for _pid, chains_of in by_problem.items():
        probe = [g for g in chains_of if g["sampling"]["policy"] == "pass_rate"]
        rate = sum(g["verdict"]["correct"] for g in probe) / len(probe)
        assert {(g["assessment"]["difficulty"], g["assessment"]["difficulty_source"]) for g in chains_of} == {(1 - rate, "pass_rate")}
        more = [g for g in chains_of if g["sampling"]["policy"] == "pass_rate_escalated"]
        band = next(b for b in BANDS if 1 - rate <= b.max_difficulty)
        assert {g["sampling"]["max_tokens"] for g in more} == ({2 * band.max_tokens} if rate < 0.5 else set())
    assert {pid for pid, c in by_problem.items() if any(g["verdict"]["correct"] for g in c)} == {f"synth/{solved.id}"}
    assert {s for b in manifest.bands for s in b.signals.difficulty_sources} == {"pass_rate"}
