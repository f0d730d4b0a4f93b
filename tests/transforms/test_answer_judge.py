"""The answer judge on the scripted teacher backend: only unverifiable chains are asked, replies
are parsed against the schema, a malformed one is retried, a failed one leaves the chain
unverifiable, a rerun comes from the cache, and the judge's model is recorded on the verdict."""
from __future__ import annotations

import dataclasses
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from pydantic import ValidationError

from pipelines.config import ConfigError, parse_config
from schemas.generation import ProblemChains
from tests.pipelines.test_config import MINIMAL
from tests.support.factories import generation, planned, problem
from transforms.answer_judge import (
    RESPONSE_FORMAT,
    AnswerJudge,
    AnswerJudgeSettings,
    answer_messages,
    parse_answer_judgement,
)
from transforms.select import SelectChains, SelectSettings
from transforms.tags import DROPPED
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings
from transforms.verdicts import verify_generation
from transforms.verifiers.config import VerifyConfig

YES = '{"equivalent": true, "rationale": "Both say it rises."}'
NO = '{"equivalent": false, "rationale": "Sideways is not up."}'
CONFIG = VerifyConfig(require_reasoning=False)


def _chains(pid: str, gold: str, finals: list[str], unit: str = "") -> ProblemChains:
    p = dataclasses.replace(problem(pid=pid, question=f"What does the line do ({pid})?", answer=gold),
                            answer_type="free_form", unit=unit)
    gens = [verify_generation(dataclasses.replace(generation(i, False, 9, pid=pid), content=f), p, CONFIG)
            for i, f in enumerate(finals)]
    return ProblemChains(planned=planned(p), generations=gens)


_SEEN: dict[str, list] = {}  # what a pipeline emitted, by label (in-process runner: the module is shared)


def _keep(item, label: str):
    _SEEN[label].append(item)


def _judge(script: Script, tmp_path, items, settings=AnswerJudgeSettings()):
    """(chains by id, dropped reasons by id, answer_judge counters)."""
    endpoint = Endpoint(scripted_settings(script, name="scripted-answer-judge"), str(tmp_path / "cache"))
    p = TestPipeline()
    judged = p | beam.Create(items) | AnswerJudge(settings, endpoint)
    selected = judged | SelectChains(SelectSettings())
    _SEEN.update(judged=[], dropped=[])
    judged | "KeepJudged" >> beam.Map(_keep, "judged")
    selected[DROPPED] | "KeepDropped" >> beam.Map(_keep, "dropped")
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace("answer_judge"))["counters"]
    return ({c.planned.problem.id: c for c in _SEEN["judged"]}, {r.row_id: r.reason for r in _SEEN["dropped"]},
            Counter({r.key.metric.name: r.result for r in found}))


def test_messages_carry_question_reference_with_unit_and_candidate():
    p = dataclasses.replace(problem(question="How far did it roll?", answer="5", caption="a ball on a ramp"), unit="m")
    system, user = answer_messages(p, "five metres")
    assert "equivalent" in system["content"]
    assert "How far did it roll?" in user["content"] and "a ball on a ramp" in user["content"]
    assert "Reference answer: 5 m" in user["content"] and "Candidate answer: five metres" in user["content"]


def test_the_schema_requires_a_boolean_and_the_parser_holds_to_it():
    schema = RESPONSE_FORMAT["json_schema"]["schema"]
    assert RESPONSE_FORMAT["type"] == "json_schema" and schema["required"] == ["equivalent"]
    assert schema["properties"]["equivalent"]["type"] == "boolean"
    assert parse_answer_judgement(f" {YES}\n").equivalent is True
    for bad in ('{"equivalent": "maybe"}', '{"rationale": "x"}', '{"equivalent": tr', "They are the same."):
        with pytest.raises(ValidationError):
            parse_answer_judgement(bad)


def test_only_unverifiable_chains_are_judged_and_the_judge_is_recorded(tmp_path):
    rises = _chains("j/1", "increases", ["Answer: it goes up", "Answer: decreases", "Answer: increases"])
    sideways = _chains("j/2", "increases", ["Answer: it goes sideways"])
    retried = _chains("j/3", "increases", ["Answer: rises steadily"])
    down = _chains("j/4", "increases", ["Answer: it keeps rising"])
    decided = _chains("j/5", "increases", ["Answer: Increases."])
    assert [g.verdict.unverifiable for g in rises.generations] == [True, False, False]
    script = Script([
        Rule(Reply(YES), match="Candidate answer: it goes up"),
        Rule(Reply(NO), match="Candidate answer: it goes sideways"),
        Rule(Reply('{"equivalent": tr'), match="Candidate answer: rises steadily", sample=0),  # cut off: retried
        Rule(Reply(YES), match="Candidate answer: rises steadily", sample=1),
        Rule(Reply(fail="http_500"), match="Candidate answer: it keeps rising"),
    ], default=None)
    out, dropped, counters = _judge(script, tmp_path, [rises, sideways, retried, down, decided])

    model = "scripted-answer-judge"
    up = out["j/1"].generations
    assert (up[0].verdict.correct, up[0].verdict.decided_by, up[0].verdict.judge_model) == (True, "judge", model)
    assert up[0].verdict.reasons == [] and up[0].verdict.checks["answer_match"] is True
    assert [g.verdict for g in up[1:]] == [g.verdict for g in rises.generations[1:]]  # rules decided those: untouched
    side = out["j/2"].generations[0].verdict
    assert (side.correct, side.reasons, side.unverifiable, side.judge_model) == (False, ["wrong_answer"], False, model)
    assert out["j/3"].generations[0].verdict.correct is True
    still = out["j/4"].generations[0].verdict
    assert still.unverifiable and still.judge_model is None and still.decided_by == ""
    asked = [c.text.rsplit("Candidate answer: ", 1)[1] for c in script.calls]
    assert sorted(asked) == sorted(["it goes up", "it goes sideways", "rises steadily", "rises steadily", "it keeps rising"])
    assert all(c.response_format == RESPONSE_FORMAT for c in script.calls)
    assert [c.plan.max_tokens for c in script.calls if "rises steadily" in c.text] == [128, 256]
    assert (counters["equivalent"], counters["different"], counters["undecided"]) == (2, 1, 1)
    assert dropped == {"j/2": "no_correct_chain", "j/4": "unverifiable"}  # j/2 was decided wrong, j/4 could not be


def test_a_rerun_comes_from_the_cache(tmp_path):
    items = [_chains("j/1", "increases", ["Answer: it goes up"])]
    _judge(Script(default=Reply(YES)), tmp_path, items)
    again = Script(default=None)  # any request would fail as unscripted
    out, _, counters = _judge(again, tmp_path, items)
    assert again.calls == [] and counters["cache_hits"] == 1 and counters["requests"] == 0
    assert out["j/1"].generations[0].verdict.judge_model == "scripted-answer-judge"


def test_answer_judge_config_is_validated_and_its_endpoint_is_a_helper():
    base = MINIMAL
    config = parse_config({**base, "answer_judge": {"endpoint": {"model": "judge-m", "base_url": "http://j:8000/v1"}}})
    assert config.answer_judge.max_tokens == 128
    assert config.helper_endpoints()["answer_judge"].model == "judge-m"
    with pytest.raises(ConfigError, match=r"answer_judge\.max_tokens"):
        parse_config({**base, "answer_judge": {"max_tokens": 0}})
    with pytest.raises(ConfigError, match=r"answer_judge\.judge_model: unknown key"):
        parse_config({**base, "answer_judge": {"judge_model": "m"}})
