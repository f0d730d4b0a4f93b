"""Accuracy intervals: the Wilson interval against its closed form, the paired bootstrap's symmetries, grouping."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.eval_stats import group_score, paired_difference, scores_by, wilson
from schemas.evaluation import EvalItem

Z95 = 1.959963984540054


def closed_form(k: int, n: int) -> tuple[float, float]:
    """Wilson's score interval written out (an independent computation of what scipy returns)."""
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return centre - half, centre + half


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_is_the_score_interval_and_holds_the_estimate(kn):
    k, n = kn
    low, high = wilson(k, n)
    ref_low, ref_high = closed_form(k, n)
    assert low == pytest.approx(max(ref_low, 0.0), abs=1e-9) and high == pytest.approx(min(ref_high, 1.0), abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0
    assert low < high  # never empty, not even at 0 or n correct


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_mirrors_when_right_and_wrong_swap(kn):
    k, n = kn
    low, high = wilson(k, n)
    mirror_low, mirror_high = wilson(n - k, n)
    assert mirror_low == pytest.approx(1 - high, abs=1e-9) and mirror_high == pytest.approx(1 - low, abs=1e-9)


@given(st.integers(1, 50), st.integers(1, 50))
def test_wilson_narrows_with_more_problems_at_the_same_rate(k, extra):
    n = k + extra
    low, high = wilson(k, n)
    low4, high4 = wilson(4 * k, 4 * n)
    assert high4 - low4 < high - low


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5), (0, 0)])
def test_wilson_refuses_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson(k, n)


outcomes = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=120)


def _pairs(pairs):
    a = {f"p{i}": x for i, (x, _) in enumerate(pairs)}
    b = {f"p{i}": y for i, (_, y) in enumerate(pairs)}
    return a, b


@settings(max_examples=40, deadline=None)
@given(outcomes)
def test_paired_difference_counts_discordant_pairs_and_is_antisymmetric(pairs):
    a, b = _pairs(pairs)
    d = paired_difference(a, b, resamples=500)
    assert d.n == len(pairs)
    assert d.a_only == sum(x and not y for x, y in pairs) and d.b_only == sum(y and not x for x, y in pairs)
    assert d.difference == pytest.approx((d.b_only - d.a_only) / len(pairs))
    assert d.difference == pytest.approx(d.b_accuracy - d.a_accuracy)
    assert -1.0 <= d.low <= d.high <= 1.0
    back = paired_difference(b, a, resamples=500)
    assert back.difference == pytest.approx(-d.difference)
    assert back.low == pytest.approx(-d.high, abs=1e-9) and back.high == pytest.approx(-d.low, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80))
def test_a_model_against_itself_differs_by_exactly_nothing(outcome):
    a = {f"p{i}": x for i, x in enumerate(outcome)}
    d = paired_difference(a, dict(a))
    assert (d.difference, d.low, d.high, d.a_only, d.b_only) == (0.0, 0.0, 0.0, 0, 0)
    assert not d.excludes_zero()


def test_paired_difference_uses_only_shared_problems_and_sees_a_clear_gain():
    a = {f"p{i}": i < 10 for i in range(200)}
    b = {f"p{i}": i < 90 for i in range(200)} | {"only-in-b": True}
    d = paired_difference(a, b, seed=3)
    assert d.n == 200 and d.b_only == 80 and d.a_only == 0
    assert d.difference == pytest.approx(0.4) and d.excludes_zero() and d.low > 0.3
    assert paired_difference(a, b, seed=3) == d  # seeded: the same interval again


def test_paired_difference_needs_shared_problems():
    with pytest.raises(ValueError, match="share no problem"):
        paired_difference({"a": True}, {"b": False})


def _item(pid: str, correct: bool, band: str = "easy", tokens: int = 10, answer_type: str = "numeric") -> EvalItem:
    return EvalItem(problem_id=pid, source="s", band=band, difficulty=0.1, answer_type=answer_type, correct=correct,
                    unverifiable=False, extracted_answer=None, reasons=[] if correct else ["wrong_answer"],
                    completion_tokens=tokens, finish_reason="stop", content="", cached=False)


def test_group_scores_keep_the_given_order_then_the_rest_sorted():
    items = [_item("1", True, "hard", 30), _item("2", False, "zeta", 10), _item("3", True, "easy", 20),
             _item("4", False, "alpha", 40), _item("5", False, "hard", 50)]
    groups = scores_by(items, lambda i: i.band, ["easy", "medium", "hard"])
    assert [g.group for g in groups] == ["easy", "hard", "alpha", "zeta"]  # medium is empty: left out
    hard = groups[1]
    assert (hard.n, hard.correct, hard.accuracy, hard.mean_tokens, hard.mean_tokens_correct) == (2, 1, 0.5, 40.0, 30.0)
    assert (hard.low, hard.high) == wilson(1, 2)


def test_an_empty_group_has_no_figures():
    empty = group_score("all", [])
    assert (empty.n, empty.accuracy, empty.low, empty.mean_tokens, empty.mean_tokens_correct) == (0, None, None, None, None)
