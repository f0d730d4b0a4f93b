"""The answer judge against the real vLLM server: schema-constrained replies parsed, the judge's
model recorded on every verdict it decided, and a rerun on the same cache sending no request.

What the 135M model decides is noise; what is asserted is the mechanics: every unverifiable
chain gets a verdict from parsed JSON (vLLM's structured output keeps it to the schema), chains
the rules decided are not sent, and the cache answers the second run."""
from __future__ import annotations

import dataclasses
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from schemas.generation import ProblemChains
from tests.support.factories import generation, planned, problem
from transforms.answer_judge import AnswerJudge, AnswerJudgeSettings
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings
from transforms.verdicts import verify_generation
from transforms.verifiers.config import VerifyConfig

pytestmark = pytest.mark.integration

PROBLEMS = {  # id: (question, gold, the chains' final answers)
    "f/1": ("Which way does the line in the chart go?", "increases", ["Answer: it goes up", "Answer: decreases"]),
    "f/2": ("What is shown in the picture?", "a red apple", ["Answer: an apple that is red", "Answer: a red apple"]),
    "f/3": ("Where is the ball?", "under the table", ["Answer: on top of the chair"]),
}
_SEEN: list[ProblemChains] = []


def _keep(chains: ProblemChains):
    _SEEN.append(chains)


def _items() -> list[ProblemChains]:
    items = []
    for pid, (question, gold, finals) in PROBLEMS.items():
        p = dataclasses.replace(problem(pid=pid, question=question, answer=gold, caption="a chart"), answer_type="free_form")
        gens = [verify_generation(dataclasses.replace(generation(i, False, 9, pid=pid), content=f), p,
                                  VerifyConfig(require_reasoning=False)) for i, f in enumerate(finals)]
        items.append(ProblemChains(planned=planned(p), generations=gens))
    return items


def _run(endpoint: Endpoint) -> tuple[dict[str, ProblemChains], Counter]:
    _SEEN.clear()
    p = TestPipeline()
    p | beam.Create(_items()) | AnswerJudge(AnswerJudgeSettings(max_tokens=96), endpoint) | beam.Map(_keep)
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace("answer_judge"))["counters"]
    return {c.planned.problem.id: c for c in _SEEN}, Counter({r.key.metric.name: r.result for r in found})


def test_answer_judge_on_the_real_server_is_parsed_recorded_and_cached(vllm_server, tmp_path):
    items = _items()
    unverifiable = {(c.planned.problem.id, g.sample_index) for c in items for g in c.generations if g.verdict.unverifiable}
    assert unverifiable == {("f/1", 0), ("f/2", 0), ("f/3", 0)}  # rules decided the others (wrong words, exact match)
    endpoint = Endpoint(TeacherSettings(base_url=vllm_server.base_url, model=vllm_server.model, max_in_flight=4),
                        str(tmp_path / "cache"))

    first, counters = _run(endpoint)
    for pid, index in unverifiable:
        verdict = first[pid].generations[index].verdict
        assert verdict.decided_by == "judge" and verdict.judge_model == vllm_server.model, verdict
        assert not verdict.unverifiable and verdict.correct == (verdict.reasons == []) == verdict.checks["answer_match"]
    decided_by_rules = [g.verdict for c in first.values() for g in c.generations if (c.planned.problem.id, g.sample_index)
                        not in unverifiable]
    assert all(v.decided_by != "judge" and v.judge_model is None for v in decided_by_rules)
    assert counters["undecided"] == 0 and counters["equivalent"] + counters["different"] == 3
    assert counters["requests"] >= 3 and counters["cache_misses"] == counters["requests"]

    second, again = _run(endpoint)
    assert again["requests"] == 0 and again["cache_hits"] == counters["requests"]
    assert {(pid, g.sample_index): g.verdict for pid, c in second.items() for g in c.generations} == \
           {(pid, g.sample_index): g.verdict for pid, c in first.items() for g in c.generations}
