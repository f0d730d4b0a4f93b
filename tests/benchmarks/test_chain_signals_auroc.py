"""The AUROC of benchmarks/chain_signals.py: the rank formula equals counting every (correct, wrong) pair, ties half;
it is invariant under any increasing transform of the figures and flips under negation; the within-problem reading
counts only pairs of one problem."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.chain_signals import Chain, hanley_mcneil, pair_auroc, rank_auroc

values = st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.1, 0.1, 1.0, 3.5]) | st.floats(-10, 10), min_size=1, max_size=25)


def brute(positives, negatives):
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_rank_auroc_is_the_pair_count_with_ties_half(positives, negatives):
    auc = rank_auroc(positives, negatives)
    assert auc == pytest.approx(brute(positives, negatives))
    assert rank_auroc([math.atan(v) for v in positives], [math.atan(v) for v in negatives]) == pytest.approx(auc)
    assert rank_auroc([-v for v in positives], [-v for v in negatives]) == pytest.approx(1 - auc)
    assert 0 <= hanley_mcneil(auc, len(positives), len(negatives)) <= 1


def test_empty_sides_have_no_auroc_and_a_perfect_split_is_one():
    assert rank_auroc([], [1.0]) is None and rank_auroc([2.0, 3.0], [0.0, 1.0]) == 1.0


def test_within_problems_only_pairs_of_one_problem_count():
    # pooled, lower entropy goes with correct; within each problem it points the other way
    chains = [Chain("easy", True, {"mean_entropy": 0.2}), Chain("easy", False, {"mean_entropy": 0.1}),
              Chain("hard", True, {"mean_entropy": 2.0}), Chain("hard", False, {"mean_entropy": 1.9}),
              Chain("hard", False, {"mean_entropy": None}), Chain("alone", True, {"mean_entropy": 0.0})]
    assert pair_auroc(chains, "mean_entropy") == (0.0, 2)
    pooled = rank_auroc([-c.figures["mean_entropy"] for c in chains if c.correct],
                        [-c.figures["mean_entropy"] for c in chains[:4] if not c.correct])
    assert pooled == pytest.approx(brute([-0.2, -2.0, 0.0], [-0.1, -1.9]))
