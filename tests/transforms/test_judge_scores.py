"""The judge's request, its parsing, and the run-level scaling and quality gate of its scores."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from pydantic import ValidationError

from schemas.plan import Assessment
from tests.support.factories import problem
from transforms.judge import JudgeSettings, judge_messages, judge_plan
from transforms.judgement import RESPONSE_FORMAT, SCORE_FIELDS, parse_judgement, with_judgement
from transforms.scores import ScaleScores, ScoreRangeFn, below_quality, normalize, normalized
from transforms.tags import DROPPED


def raw(pid: str, sv: float, st: float, si: float, quality: float | None = None) -> Assessment:
    return Assessment(pid, 0.5, "metadata", vision_score=sv, text_score=st, integration_score=si,
                      quality=quality if quality is not None else (sv + st + si) / 3)


def test_response_format_constrains_three_scores_to_one_to_five():
    schema = RESPONSE_FORMAT["json_schema"]["schema"]
    assert RESPONSE_FORMAT["type"] == "json_schema"
    assert set(SCORE_FIELDS) <= set(schema["required"])
    for field in SCORE_FIELDS:
        assert (schema["properties"][field]["minimum"], schema["properties"][field]["maximum"]) == (1, 5)


def test_parse_accepts_schema_json_and_rejects_the_rest():
    good = parse_judgement(' {"vision_score": 2, "text_score": 5, "integration_score": 4, "rationale": "ok"}\n')
    assert (good.vision_score, good.text_score, good.integration_score, good.rationale) == (2, 5, 4, "ok")
    for bad in ('{"vision_score": 6, "text_score": 5, "integration_score": 4}',
                '{"vision_score": 2, "text_score": 5}',
                '{"vision_score": 2, "text_score": 5, "integration_score": 4',
                "The image is clear. Score: 4"):
        with pytest.raises(ValidationError):
            parse_judgement(bad)


def test_with_judgement_records_raw_scores_quality_and_model():
    judged = with_judgement(Assessment("s/1", 0.3, "metadata", judge_error="old"),
                            parse_judgement('{"vision_score": 1, "text_score": 2, "integration_score": 3}'), "judge-m")
    assert (judged.vision_score, judged.text_score, judged.integration_score) == (1.0, 2.0, 3.0)
    assert judged.quality == 2.0 and judged.judge_model == "judge-m" and judged.judge_error is None


def test_judge_messages_carry_the_rubric_and_the_problem_text_or_images():
    text = judge_messages(problem(caption="two bars"), "text")
    assert text[0]["role"] == "system" and "integration_score" in text[0]["content"]
    assert "two bars" in text[1]["content"] and "How many dots?" in text[1]["content"]
    vision = judge_messages(problem(), "vision")
    kinds = [part["type"] for part in vision[1]["content"]]
    assert kinds[0] == "image_url" and kinds[-1] == "text"


def test_judge_retries_get_a_larger_budget():
    settings = JudgeSettings(max_tokens=100)
    assert [judge_plan(settings, a).max_tokens for a in range(3)] == [100, 200, 400]
    assert judge_plan(settings, 0).temperature == 0.0


def test_normalize_is_min_max_over_the_run_with_a_fixed_scale_when_degenerate():
    assert normalize(3.0, (2.0, 4.0)) == 0.5 and normalize(2.0, (2.0, 4.0)) == 0.0
    assert normalize(3.0, (3.0, 3.0)) == 0.5 and normalize(5.0, None) == 1.0


def test_normalized_sets_judge_difficulty_only_when_asked():
    ranges = {"vision_score": (1.0, 5.0), "text_score": (1.0, 3.0), "integration_score": (2.0, 4.0)}
    a = raw("s/1", 3.0, 3.0, 2.0)
    kept = normalized(a, ranges, difficulty_from_judge=False)
    assert (kept.vision_score, kept.text_score, kept.integration_score) == (0.5, 1.0, 0.0)
    assert (kept.difficulty, kept.difficulty_source) == (0.5, "metadata")
    judged = normalized(a, ranges, difficulty_from_judge=True)
    assert judged.difficulty == pytest.approx(0.5) and judged.difficulty_source == "judge"
    missing = Assessment("s/2", 0.4, "metadata", judge_error="malformed_judgement")
    assert normalized(missing, ranges, True) == missing


def test_quality_gate_drops_only_judged_problems_below_the_threshold():
    assert below_quality(raw("a", 1, 2, 2), 2.0) and not below_quality(raw("b", 2, 2, 2), 2.0)
    assert not below_quality(Assessment("c", 0.2, "metadata", judge_error="x"), 5.0)


def test_score_ranges_merge_across_workers():
    fn = ScoreRangeFn()
    left = fn.add_input(fn.create_accumulator(), raw("a", 1, 4, 2))
    right = fn.add_input(fn.add_input(fn.create_accumulator(), raw("b", 5, 2, 2)), Assessment("c", 0.1, "metadata"))
    assert fn.extract_output(fn.merge_accumulators([left, right])) == {
        "vision_score": (1, 5), "text_score": (2, 4), "integration_score": (2, 2)}


def test_scale_scores_in_a_pipeline_normalizes_over_the_run_and_gates():
    pairs = [(problem("s/1"), raw("s/1", 1, 1, 1)), (problem("s/2"), raw("s/2", 5, 5, 5)),
             (problem("s/3"), raw("s/3", 3, 5, 1)), (problem("s/4"), Assessment("s/4", 0.2, "metadata", judge_error="x"))]
    with TestPipeline() as p:
        out = p | beam.Create(pairs) | ScaleScores(difficulty_from_judge=True, min_quality=2.0)
        assert_that(out.pairs | beam.Map(lambda pair: (pair[0].id, pair[1].difficulty)),
                    equal_to([("s/2", 1.0), ("s/3", 0.5), ("s/4", 0.2)]), label="kept")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.stage, r.reason)),
                    equal_to([("s/1", "assess", "below_min_quality")]), label="dropped")
