"""The chain scorer against the real vLLM server: schema-constrained 0–5 scores parsed and recorded with the
scorer's model, the quality bar and MPO pairs following those scores, and a rerun sending no request.

What the 135M model scores is noise; what is asserted is the mechanics, checked against the scores it gave."""
from __future__ import annotations

import dataclasses
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from tests.support.factories import chains, generation, problem
from transforms.chain_score import ScoreChains, ScorerSettings
from transforms.select import PREFERENCE, SelectChains, SelectSettings
from transforms.tags import DROPPED
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings

pytestmark = pytest.mark.integration

CHAINS = {  # id: (question, answer, [(correct, reasoning)])
    "s/1": ("How many dots are in the picture?", "3",
            [(True, "I count one, two, three dots, so there are 3."), (False, "There are many dots, maybe 5."),
             (True, "Three.")]),
    "s/2": ("What is 12 divided by 4?", "3", [(True, "12 / 4 = 3 because 4 * 3 = 12."), (False, "12 / 4 = 4.")]),
    "s/3": ("How many sides does a triangle have?", "3", [(True, "A triangle has three sides."),
                                                     (True, "3 sides, since tri means three.")]),
}
_SEEN: dict[str, list] = {}


def _keep(item, label):
    _SEEN[label].append(item)


def _items():
    out = []
    for pid, (question, answer, marks) in CHAINS.items():
        p = problem(pid=pid, question=f"<image> {question}", answer=answer, caption="a simple drawing")
        gens = [dataclasses.replace(generation(i, ok, 10 + len(text) // 4, pid=pid), reasoning=text,
                                    answer_text=f"The answer is \\boxed{{{answer if ok else 5}}}.") for i, (ok, text) in enumerate(marks)]
        out.append(chains(gens, p))
    return out


def _run(endpoint: Endpoint, bar: float):
    _SEEN.update(scored=[], dropped=[], pairs=[], sft=[])
    p = TestPipeline()
    scored = p | beam.Create(_items()) | ScoreChains(ScorerSettings(chains="decided", max_tokens=48), endpoint)
    selected = scored | SelectChains(SelectSettings(pairs="score", min_chain_quality=bar))
    scored | "KeepScored" >> beam.Map(_keep, "scored")
    selected.sft | "KeepSFT" >> beam.Map(_keep, "sft")
    selected[DROPPED] | "KeepDropped" >> beam.Map(_keep, "dropped")
    selected[PREFERENCE] | "KeepPairs" >> beam.Map(_keep, "pairs")
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace("score"))["counters"]
    return Counter({r.key.metric.name: r.result for r in found})


def test_scores_from_the_real_server_are_parsed_cached_and_drive_the_bar_and_the_pairs(vllm_server, tmp_path):
    endpoint = Endpoint(TeacherSettings(base_url=vllm_server.base_url, model=vllm_server.model, max_in_flight=4),
                        str(tmp_path / "cache"))
    counters = _run(endpoint, bar=0.0)
    scores = {(g.problem_id, g.sample_index): g.chain_score for c in _SEEN["scored"] for g in c.generations}
    assert len(scores) == 7 and counters["unscored"] == 0
    assert all(s in {0.0, 1.0, 2.0, 3.0, 4.0, 5.0} for s in scores.values()), scores
    assert {g.scorer for c in _SEEN["scored"] for g in c.generations} == {vllm_server.model}
    assert counters["requests"] >= 7 and counters["cache_misses"] == counters["requests"]

    bar = max(scores.values())  # rerun from the cache with the bar at the best score given
    again = _run(endpoint, bar=bar)
    assert again["requests"] == 0 and again["cache_hits"] == counters["requests"]
    correct = {pid: [scores[(pid, i)] for i, (ok, _) in enumerate(marks) if ok] for pid, (_, _, marks) in CHAINS.items()}
    assert sorted(r.id for r in _SEEN["sft"]) == sorted(pid for pid, s in correct.items() if max(s) >= bar)
    assert all(r.chain_score >= bar for r in _SEEN["sft"])
    assert {r.row_id: r.reason for r in _SEEN["dropped"]} == {
        pid: "below_min_chain_quality" for pid, s in correct.items() if max(s) < bar}
    for pair in _SEEN["pairs"]:
        problem_scores = [s for (pid, _), s in scores.items() if pid == pair.id]
        assert (pair.chosen_score, pair.rejected_score) == (bar, min(problem_scores)) and pair.rejected_reason == "lower_score"
    assert {p.id for p in _SEEN["pairs"]} == {r.id for r in _SEEN["sft"]
                                              if min(s for (pid, _), s in scores.items() if pid == r.id) < bar}
