"""The chain scorer on the scripted teacher backend: which chains are asked, the schema-constrained score parsed and
recorded with its model, retries and failures, the cache, the quality bar's drops and MPO pairs by score."""
from __future__ import annotations

import dataclasses
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from pydantic import ValidationError

from pipelines.config import ConfigError, parse_config
from pipelines.endpoints import RunEndpoints
from schemas.generation import ProblemChains
from tests.pipelines.test_config import MINIMAL
from tests.support.factories import chains, generation, problem
from transforms.chain_score import RESPONSE_FORMAT, ScoreChains, ScorerSettings, parse_score, score_messages
from transforms.select import PREFERENCE, SelectChains, SelectSettings, score_pair
from transforms.tags import DROPPED
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

SCORER = "scripted-scorer"


def score(n: int, why: str = "fine") -> Reply:
    return Reply(f'{{"score": {n}, "rationale": "{why}"}}')


def _chains(pid: str, marks: list[tuple[bool, int]]) -> ProblemChains:
    """A problem with one chain per (correct, tokens); each chain's text names it (``<pid> chain <i>``)."""
    p = problem(pid=pid, question=f"<image> How many dots ({pid})?")
    gens = [generation(i, ok, tokens, content=f"{pid} chain {i} \\boxed{{3}}", pid=pid)
            for i, (ok, tokens) in enumerate(marks)]
    return chains(gens, p)


_SEEN: dict[str, list] = {}


def _keep(item, label: str):
    _SEEN[label].append(item)


def _score(script: Script, tmp_path, items, settings=ScorerSettings(), select=SelectSettings()):
    """(scored chains by id, dropped rows by id, preference rows by id, score counters)."""
    endpoint = Endpoint(scripted_settings(script, name=SCORER), str(tmp_path / "cache"))
    p = TestPipeline()
    scored = p | beam.Create(items) | ScoreChains(settings, endpoint)
    selected = scored | SelectChains(select)
    _SEEN.update(scored=[], dropped=[], preference=[])
    scored | "KeepScored" >> beam.Map(_keep, "scored")
    selected[DROPPED] | "KeepDropped" >> beam.Map(_keep, "dropped")
    selected[PREFERENCE] | "KeepPairs" >> beam.Map(_keep, "preference")
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace("score"))["counters"]
    return ({c.planned.problem.id: c for c in _SEEN["scored"]}, {r.row_id: r for r in _SEEN["dropped"]},
            {r.id: r for r in _SEEN["preference"]}, Counter({r.key.metric.name: r.result for r in found}))


def test_messages_carry_the_problem_the_reference_and_the_chain_cut_to_its_bound():
    p = dataclasses.replace(problem(question="<image> How far did it roll?", answer="5", caption="a ball"), unit="m")
    g = dataclasses.replace(generation(0, True, 9), reasoning="r" * 500, answer_text="So \\boxed{5}.")
    system, user = score_messages(p, g, "text", limit=200)
    assert "score (0-5)" in system["content"]
    assert "How far did it roll?" in user["content"] and "a ball" in user["content"] and "Reference answer: 5 m" in user["content"]
    assert "r" * 200 + " […]" in user["content"] and "So \\boxed{5}." not in user["content"]
    vision = score_messages(p, g, "vision", limit=1000)[1]["content"]
    assert [part["type"] for part in vision].count("image_url") == 1 and "So \\boxed{5}." in vision[-1]["text"]


def test_the_schema_bounds_the_score_and_the_parser_holds_to_it():
    schema = RESPONSE_FORMAT["json_schema"]["schema"]
    assert schema["required"] == ["score"] and schema["properties"]["score"]["maximum"] == 5
    assert parse_score(' {"score": 0} ').score == 0
    for bad in ('{"score": 6}', '{"score": -1}', '{"score": "high"}', '{"score": 4', "Four out of five."):
        with pytest.raises(ValidationError):
            parse_score(bad)


def test_correct_chains_are_scored_retried_and_recorded_with_the_scorer(tmp_path):
    mixed = _chains("c/1", [(True, 30), (False, 20), (True, 50)])
    retried = _chains("c/2", [(True, 10)])
    failing = _chains("c/3", [(True, 10)])
    wrong_only = _chains("c/4", [(False, 10)])
    script = Script([
        Rule(score(4, "clear"), match="c/1 chain 0"), Rule(score(2, "detours"), match="c/1 chain 2"),
        Rule(Reply('{"score": 5, "rati'), match="c/2 chain 0", sample=0),  # cut off: retried with twice the budget
        Rule(score(5), match="c/2 chain 0", sample=1),
        Rule(Reply(fail="http_500"), match="c/3 chain 0"),
    ], default=None)
    out, _, _, counters = _score(script, tmp_path, [mixed, retried, failing, wrong_only])
    one = out["c/1"].generations
    assert [(g.chain_score, g.scorer, g.score_rationale) for g in one] == [
        (4.0, SCORER, "clear"), (None, None, None), (2.0, SCORER, "detours")]
    assert out["c/2"].generations[0].chain_score == 5.0
    assert out["c/3"].generations[0].chain_score is None and out["c/4"].generations[0].chain_score is None
    assert all(c.response_format == RESPONSE_FORMAT for c in script.calls)
    assert [c.plan.max_tokens for c in script.calls if "c/2 chain 0" in c.text] == [96, 192]
    assert not any("c/1 chain 1" in c.text or "c/4" in c.text for c in script.calls)  # wrong chains: not asked
    assert (counters["score_4"], counters["score_2"], counters["score_5"], counters["unscored"]) == (1, 1, 1, 1)


def test_decided_chains_include_wrong_ones_and_never_unverifiable_or_repeats(tmp_path):
    item = _chains("d/1", [(True, 30), (False, 20), (True, 25)])
    gens = item.generations
    gens[2] = dataclasses.replace(gens[2], duplicate_of=0)
    unverifiable = dataclasses.replace(generation(3, False, 9, reasons=["unverifiable"], pid="d/1"), content="d/1 chain 3")
    item = dataclasses.replace(item, generations=[*gens, unverifiable])
    script = Script(default=score(3))
    out, _, _, _ = _score(script, tmp_path, [item], ScorerSettings(chains="decided"))
    assert [g.chain_score for g in out["d/1"].generations] == [3.0, 3.0, None, None]
    assert sorted(c.text.rsplit("d/1 chain ", 1)[1][0] for c in script.calls) == ["0", "1"]


def test_a_rerun_comes_from_the_cache(tmp_path):
    items = [_chains("r/1", [(True, 10), (True, 12)])]
    _score(Script(default=score(4)), tmp_path, items)
    again = Script(default=None)  # any request would fail as unscripted
    out, _, _, counters = _score(again, tmp_path, items)
    assert again.calls == [] and counters["cache_hits"] == 2 and counters["requests"] == 0
    assert [g.chain_score for g in out["r/1"].generations] == [4.0, 4.0]


def test_the_quality_bar_keeps_chains_at_or_above_it_and_drops_the_rest_with_their_reason(tmp_path):
    keeps_the_good_one = _chains("q/1", [(True, 40), (True, 41)])   # scores 2 and 3: the 3 is kept, not the closer-fit 2
    all_below = _chains("q/2", [(True, 40), (True, 40), (True, 40)])  # 1, 2, unscored
    wrong = _chains("q/3", [(False, 40)])
    script = Script([
        Rule(score(2), match="q/1 chain 0"), Rule(score(3), match="q/1 chain 1"),
        Rule(score(1), match="q/2 chain 0"), Rule(score(2), match="q/2 chain 1"), Rule(Reply("no json"), match="q/2 chain 2"),
    ], default=None)
    select = SelectSettings(strategy="shortest_correct", min_chain_quality=3, preference=False)
    _, dropped, _, _ = _score(script, tmp_path, [keeps_the_good_one, all_below, wrong], select=select)
    assert {pid: r.reason for pid, r in dropped.items()} == {"q/2": "below_min_chain_quality", "q/3": "no_correct_chain"}
    assert dropped["q/2"].detail == "correct chains scored 1×1, 2×1, unscored×1"


def test_the_kept_sft_row_carries_its_chains_score(tmp_path):
    items = [_chains("k/1", [(True, 40), (True, 41)])]
    script = Script([Rule(score(2), match="k/1 chain 0"), Rule(score(5), match="k/1 chain 1")], default=None)
    endpoint = Endpoint(scripted_settings(script, name=SCORER), str(tmp_path / "cache"))
    _SEEN["sft"] = []
    with TestPipeline() as p:
        scored = p | beam.Create(items) | ScoreChains(ScorerSettings(), endpoint)
        (scored | SelectChains(SelectSettings(min_chain_quality=4))).sft | beam.Map(_keep, "sft")
    (row,) = _SEEN["sft"]
    assert (row.chain_score, row.scorer) == (5.0, SCORER) and "sample 1" in row.selection and "scored >= 4" in row.selection


def test_mpo_pairs_are_best_versus_worst_by_score(tmp_path):
    item = _chains("m/1", [(True, 30), (False, 25), (True, 60), (True, 35)])
    flat = _chains("m/2", [(True, 30), (True, 31)])  # all scored alike: no pair
    script = Script([Rule(score(3), match="m/1 chain 0"), Rule(score(0), match="m/1 chain 1"),
                     Rule(score(5), match="m/1 chain 2"), Rule(score(4), match="m/1 chain 3")], default=score(4))
    _, _, pairs, _ = _score(script, tmp_path, [item, flat], ScorerSettings(chains="decided"), SelectSettings(pairs="score"))
    assert set(pairs) == {"m/1"}
    pair = pairs["m/1"]
    assert (pair.chosen_score, pair.rejected_score, pair.rejected_reason, pair.scorer) == (5.0, 0.0, "lower_score", SCORER)
    assert (pair.chosen_tokens, pair.rejected_tokens) == (60, 25)
    assert "m/1 chain 2" in pair.chosen.content and "m/1 chain 1" in pair.rejected.content


def test_score_pair_honours_the_bar_and_breaks_ties():
    gens = [dataclasses.replace(generation(i, ok, t), chain_score=s)
            for i, (ok, t, s) in enumerate([(True, 30, 4.0), (True, 20, 4.0), (True, 50, 2.0), (False, 70, 2.0)])]
    best, worst = score_pair(gens)
    assert (best.sample_index, worst.sample_index) == (1, 3)  # shorter of the 4s; longer of the 2s
    assert score_pair(gens, SelectSettings(min_chain_quality=5)) is None


def test_scorer_config_is_validated_and_its_endpoint_is_a_helper():
    config = parse_config({**MINIMAL, "scorer": {"endpoint": {"model": "rm", "base_url": "http://rm:8000/v1"}},
                           "select": {"min_chain_quality": 2, "pairs": "score"}})
    assert config.scorer.chains == "correct" and config.helper_endpoints()["scorer"].model == "rm"
    teacher = Endpoint(config.teacher, "/c")
    assert RunEndpoints(teacher, {"scorer": Endpoint(config.scorer.endpoint, "/c")}).of("scorer").settings.model == "rm"
    with pytest.raises(ConfigError, match=r"select.min_chain_quality > 0, select.pairs: score needs a scorer: section"):
        parse_config({**MINIMAL, "select": {"min_chain_quality": 3, "pairs": "score"}})
    with pytest.raises(ConfigError, match=r"select\.min_chain_quality"):
        parse_config({**MINIMAL, "scorer": {}, "select": {"min_chain_quality": 6}})
    with pytest.raises(ConfigError, match=r"scorer\.chains"):
        parse_config({**MINIMAL, "scorer": {"chains": "all"}})
