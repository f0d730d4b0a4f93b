"""The teacher-call stages' own logic in TestPipeline, on the scripted teacher backend (no server).

What depends on the engine (sampling, truncation, structured output, retries over HTTP) is tested
against the real vLLM server elsewhere; here the teacher's replies, failures and delays are
scripted so the stages' decisions can be asserted exactly: partial failure to dead letter, cache
hits on a rerun, a malformed judgement retried, repair falling through, the escalation join.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from schemas.plan import Assessment
from schemas.stages import ESCALATE, GENERATE
from tests.support.factories import PLAN, chains, generation, planned, problem
from transforms.escalate import EscalateLowPassRate
from transforms.generate import GenerateChains
from transforms.judge import Judge, JudgeSettings
from transforms.judgement import RESPONSE_FORMAT
from transforms.probe import ProbeSettings
from transforms.repair import RepairChains, RepairSettings
from transforms.tags import DEAD_LETTER
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings
from transforms.verifiers.config import VerifyConfig
from transforms.verify import VerifyChains

RIGHT = "<think>There are three dots, counted one by one.</think> The answer is \\boxed{3}."
WRONG = "<think>I see four dots, counted in a hurry.</think> The answer is \\boxed{4}."
VERIFY = VerifyConfig()
QUESTIONS = {"s/1": "How many dots?", "s/2": "How many squares?", "s/3": "How many lines?"}


def _endpoint(script: Script, tmp_path, **fields) -> Endpoint:
    """The scripted teacher as one model name: a later script meets an earlier one's cache entries."""
    return Endpoint(scripted_settings(script, name="scripted-teacher", **fields), str(tmp_path / "cache"))


def _problems():
    return [planned(problem(pid=pid, question=q)) for pid, q in QUESTIONS.items()]


_SEEN: dict[str, list] = {}  # what a pipeline emitted, by label (in-process runner: the module is shared)


def _keep(item, label: str):
    _SEEN.setdefault(label, []).append(item)


def _run(p: TestPipeline, **outputs) -> tuple[dict[str, list], object]:
    """Run ``p`` collecting each labelled PCollection; (items by label, the run's result)."""
    for label, pcoll in outputs.items():
        _SEEN[label] = []
        pcoll | f"Keep_{label}" >> beam.Map(_keep, label)
    result = p.run()
    result.wait_until_finish()
    return {label: _SEEN.pop(label) for label in outputs}, result


def _counters(result, namespace: str) -> Counter:
    found = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    return Counter({r.key.metric.name: r.result for r in found})


def _generate(endpoint: Endpoint, items):
    """Run Generate over ``items``; (chains by problem id, dead letters, generate counters)."""
    p = TestPipeline()
    generated = p | beam.Create(items) | GenerateChains(endpoint)
    out, result = _run(p, chains=generated.chains, dead=generated[DEAD_LETTER])
    return {c.planned.problem.id: c for c in out["chains"]}, out["dead"], _counters(result, "generate")


@pytest.mark.parametrize("layout", ["sample", "problem"])
def test_a_failed_sample_dead_letters_its_problem_and_a_rerun_pays_only_for_it(tmp_path, layout):
    failing = Script([Rule(Reply(fail="http_500"), match="How many squares?", sample=1)], default=Reply(RIGHT))
    by_id, dead, counters = _generate(_endpoint(failing, tmp_path, cache_layout=layout), _problems())
    assert sorted(by_id) == ["s/1", "s/3"]
    assert [g.sample_index for g in by_id["s/1"].generations] == list(range(PLAN.n))
    assert not any(g.cached for g in by_id["s/1"].generations)
    (reject,) = dead
    assert (reject.row_id, reject.stage, reject.reason) == ("s/2", "generate", "teacher_http_500")
    assert reject.detail.startswith(f"1/{PLAN.n} samples failed")
    assert len(failing.calls) == 3 * PLAN.n
    assert (counters["requests"], counters["failed"], counters["failed_teacher_http_500"]) == (3 * PLAN.n - 1, 1, 1)

    healed = Script(default=Reply(RIGHT))
    by_id, dead, counters = _generate(_endpoint(healed, tmp_path, cache_layout=layout), _problems())  # same cache
    assert sorted(by_id) == ["s/1", "s/2", "s/3"] and dead == []
    assert [(c.text.count("How many squares?"), c.sample) for c in healed.calls] == [(1, 1)]
    assert [g.cached for g in by_id["s/2"].generations] == [True, False, True]
    assert (counters["cache_hits"], counters["cache_misses"], counters["requests"]) == (3 * PLAN.n - 1, 1, 1)


def test_requests_in_flight_never_exceed_max_in_flight(tmp_path):
    script = Script(default=Reply(RIGHT, delay_s=0.05))
    items = [planned(problem(pid=f"s/{i}", question=f"Question {i}?")) for i in range(6)]
    by_id, dead, _ = _generate(_endpoint(script, tmp_path, max_in_flight=2), items)
    assert len(by_id) == 6 and dead == [] and len(script.calls) == 6 * PLAN.n
    assert script.peak_in_flight == 2


def test_retries_and_tokens_reach_the_counters(tmp_path):
    script = Script([Rule(Reply(RIGHT, completion_tokens=7, prompt_tokens=11, retries=2), match="How many dots?")],
                    default=Reply(RIGHT, completion_tokens=5, prompt_tokens=11))
    _, _, counters = _generate(_endpoint(script, tmp_path), _problems())
    assert counters["retries"] == 2 * PLAN.n
    assert counters["tokens_out"] == PLAN.n * (7 + 5 + 5) and counters["tokens_in"] == 3 * PLAN.n * 11


JUDGEMENT = '{"vision_score": 4, "text_score": 3, "integration_score": 5, "rationale": "clear"}'


def _judge(endpoint: Endpoint, settings: JudgeSettings) -> dict[str, Assessment]:
    pairs = [(problem(pid=pid, question=q), Assessment(pid, 0.5, "metadata")) for pid, q in QUESTIONS.items()]
    p = TestPipeline()
    out, _ = _run(p, judged=p | beam.Create(pairs) | Judge(settings, endpoint))
    return {pair[0].id: pair[1] for pair in out["judged"]}


def test_a_malformed_judgement_is_retried_with_twice_the_budget_and_a_teacher_error_is_not(tmp_path):
    script = Script([
        Rule(Reply('{"vision_score": 4, "text_sc'), match="How many dots?", sample=0),  # cut off: retried
        Rule(Reply(JUDGEMENT), match="How many dots?", sample=1),
        Rule(Reply('{"vision_score": 9}'), match="How many squares?"),  # out of range every time
        Rule(Reply(fail="http_400"), match="How many lines?"),
    ], default=None)
    endpoint = _endpoint(script, tmp_path)
    out = _judge(endpoint, JudgeSettings(max_tokens=100, attempts=3))
    dots = out["s/1"]
    assert (dots.vision_score, dots.text_score, dots.integration_score, dots.quality) == (4.0, 3.0, 5.0, 4.0)
    assert dots.judge_error is None and {a.judge_model for a in out.values()} == {endpoint.settings.model}
    assert out["s/2"].judge_error.startswith("malformed_judgement") and out["s/2"].vision_score is None
    assert out["s/3"].judge_error.startswith("teacher_http_400")
    budgets = {pid: [c.plan.max_tokens for c in script.calls if q in c.text] for pid, q in QUESTIONS.items()}
    assert budgets == {"s/1": [100, 200], "s/2": [100, 200, 400], "s/3": [100]}
    assert all(c.response_format == RESPONSE_FORMAT for c in script.calls)


def test_judgements_come_from_the_cache_on_a_rerun(tmp_path):
    _judge(_endpoint(Script(default=Reply(JUDGEMENT)), tmp_path), JudgeSettings())
    again = Script(default=None)  # any request would fail as unscripted
    out = _judge(_endpoint(again, tmp_path), JudgeSettings())
    assert again.calls == [] and {a.quality for a in out.values()} == {4.0}


def _repair(script: Script, tmp_path, items) -> tuple[dict, Counter]:
    p = TestPipeline()
    out, result = _run(p, repaired=p | beam.Create(items) | RepairChains(RepairSettings(enabled=True),
                                                                         _endpoint(script, tmp_path), VERIFY))
    return {c.planned.problem.id: c for c in out["repaired"]}, _counters(result, "repair")


def test_repair_adds_a_verified_rewrite_and_falls_through_when_the_request_fails(tmp_path):
    def wrong(pid: str, marker: str):
        return chains([generation(0, False, 9, content=f"<think>{marker}</think> \\boxed{{4}}", pid=pid)],
                      problem(pid=pid, question=QUESTIONS.get(pid, "How many?")))

    script = Script([
        Rule(Reply(RIGHT), match="marker-fixed"),
        Rule(Reply(WRONG), match="marker-still"),
        Rule(Reply(fail="timeout"), match="marker-down"),
    ], default=None)
    already = chains([generation(0, True, 9, content=RIGHT, pid="s/4")], problem(pid="s/4"))
    items = [wrong("s/1", "marker-fixed"), wrong("s/2", "marker-still"), wrong("s/3", "marker-down"), already]
    out, counters = _repair(script, tmp_path, items)
    fixed, still, down, kept = (out[pid].generations for pid in ("s/1", "s/2", "s/3", "s/4"))
    assert [(g.provenance, g.verdict.correct) for g in fixed] == [("teacher", False), ("repair", True)]
    assert fixed[1].sample_index == PLAN.n and fixed[1].sampling.policy == "repair"
    assert [(g.provenance, g.verdict.correct) for g in still] == [("teacher", False), ("repair", False)]
    assert len(down) == 1 and len(kept) == 1
    assert len(script.calls) == 3  # nothing asked for the problem that already had a correct chain
    assert (counters["repaired"], counters["still_wrong"], counters["rewrite_failed"]) == (1, 1, 1)


def test_escalation_joins_each_low_probe_with_its_second_round_and_drops_failed_ones(tmp_path):
    probe = ProbeSettings(samples=2, escalate_below=0.5, extra_samples=3, budget_factor=2.0)
    script = Script([Rule(Reply(fail="http_503"), match="How many lines?", sample=PLAN.n + 1)], default=Reply(RIGHT))
    endpoint = _endpoint(script, tmp_path)
    low = chains([generation(0, False, 5), generation(1, False, 6)], problem(pid="s/1", question=QUESTIONS["s/1"]))
    high = chains([generation(0, True, 5, pid="s/2"), generation(1, True, 6, pid="s/2")],
                  problem(pid="s/2", question=QUESTIONS["s/2"]))
    failing = chains([generation(0, False, 5, pid="s/3"), generation(1, True, 6, pid="s/3"),
                      generation(2, False, 6, pid="s/3")], problem(pid="s/3", question=QUESTIONS["s/3"]))

    def check(merged):
        by_id = {c.planned.problem.id: c for c in merged}
        if sorted(by_id) != ["s/1", "s/2"]:
            raise BeamAssertException(f"emitted {sorted(by_id)}")
        indices = [g.sample_index for g in by_id["s/1"].generations]
        if indices != [0, 1, PLAN.n, PLAN.n + 1, PLAN.n + 2] or by_id["s/1"].pass_rate != 3 / 5:
            raise BeamAssertException(f"s/1 chains {indices}, pass rate {by_id['s/1'].pass_rate}")
        if by_id["s/1"].planned.plan.max_tokens != 2 * PLAN.max_tokens or len(by_id["s/2"].generations) != 2:
            raise BeamAssertException("escalated plan or untouched probe wrong")

    p = TestPipeline()
    out = (p | beam.Create([low, high, failing])
           | EscalateLowPassRate(probe, GenerateChains(endpoint), VerifyChains(VERIFY)))
    assert_that(out["chains"], check)
    assert_that(out[DEAD_LETTER] | beam.Map(lambda r: (r.row_id, r.stage, r.reason)),
                equal_to([("s/3", GENERATE.name, "teacher_http_503")]), label="dead")
    result = p.run()
    result.wait_until_finish()
    # routing counts under escalate's own name (before the stage table: under "length"); the second round under generate
    assert _counters(result, ESCALATE.name) == {"escalated": 2}
    assert _counters(result, "length") == Counter() and _counters(result, GENERATE.name)["in"] == 2
    asked = sorted((next(q for q in QUESTIONS.values() if q in c.text), c.sample) for c in script.calls)
    assert asked == sorted((q, i) for q in (QUESTIONS["s/1"], QUESTIONS["s/3"]) for i in range(PLAN.n, PLAN.n + 3))
    assert {c.plan.max_tokens for c in script.calls} == {2 * PLAN.max_tokens}


def test_a_changed_sampling_field_is_a_new_request(tmp_path):
    script = Script(default=Reply(RIGHT))
    item = planned(problem())
    _generate(_endpoint(script, tmp_path), [item])
    hotter = dataclasses.replace(item, plan=dataclasses.replace(PLAN, temperature=1.1))
    _, _, counters = _generate(_endpoint(script, tmp_path), [hotter])
    assert counters["cache_hits"] == 0 and counters["requests"] == PLAN.n


def test_hostile_replies_to_the_judge_and_to_repair_pass_the_gate_or_fail_that_call(tmp_path):
    """The judge's and repair's replies take the same ask path through the reply gate as generate's."""
    script = Script([
        Rule(Reply([{"type": "text", "text": JUDGEMENT}], completion_tokens=10**40), match="How many dots?"),  # parts
        Rule(Reply('{"vision_score": 4 \ud800'), match="How many squares?"),  # a lone surrogate: bad_text
        Rule(Reply(12345), match="How many lines?"),  # not text: bad_content
    ], default=None)
    out = _judge(_endpoint(script, tmp_path), JudgeSettings(attempts=2))
    assert out["s/1"].judge_error is None and out["s/1"].quality == 4.0
    assert out["s/2"].judge_error.startswith("teacher_bad_text") and out["s/3"].judge_error.startswith("teacher_bad_content")
    rewrite = Script([Rule(Reply("<think>Three <|im_end|> dots.</think> The answer is \\boxed{3}."), match="marker-x")],
                     default=None)
    item = chains([generation(0, False, 9, content="<think>marker-x</think> \\boxed{4}")], problem())
    repaired, _ = _repair(rewrite, tmp_path, [item])
    rewritten = repaired["s/1"].generations[1]
    assert rewritten.provenance == "repair" and not rewritten.verdict.correct and "reserved_token" in rewritten.verdict.reasons
