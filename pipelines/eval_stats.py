"""Accuracy with its uncertainty: Wilson score intervals per group, a paired bootstrap for two models.

One model's accuracy on n problems gets the Wilson score interval (``scipy.stats.binomtest``): unlike
the normal approximation it stays inside [0, 1] and is not empty at 0 or n correct, which matters
for a small student and for small bands. Two models on the same problems are compared by the
percentile interval of the mean per-problem difference over problems resampled with replacement
(``scipy.stats.bootstrap``, ``paired=True``, seeded): pairing removes the problems' own difficulty
from the noise, so the interval of the difference is narrower than two separate intervals suggest.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy import stats

from schemas.evaluation import EvalItem, GroupScore, PairedDifference

CONFIDENCE = 0.95
INTERVAL = "Wilson score, 95 %"
RESAMPLES = 10_000


def wilson(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``correct`` successes in ``n`` trials (``n`` > 0)."""
    if not 0 <= correct <= n or n <= 0:
        raise ValueError(f"need 0 <= correct <= n and n > 0, got correct={correct}, n={n}")
    ci = stats.binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def group_score(group: str, items: Sequence[EvalItem]) -> GroupScore:
    """Accuracy, Wilson interval and mean answer lengths of ``items`` (an empty group has no figures)."""
    n, correct = len(items), sum(item.correct for item in items)
    low, high = wilson(correct, n) if n else (None, None)
    return GroupScore(group=group, n=n, correct=correct, accuracy=correct / n if n else None, low=low, high=high,
                      mean_tokens=_mean([i.completion_tokens for i in items]),
                      mean_tokens_correct=_mean([i.completion_tokens for i in items if i.correct]))


def scores_by(items: Iterable[EvalItem], key: Callable[[EvalItem], str], order: Sequence[str] = ()) -> list[GroupScore]:
    """One :class:`GroupScore` per value of ``key``: those named in ``order`` first (in that order), then the rest sorted."""
    groups: dict[str, list[EvalItem]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    names = [g for g in order if g in groups] + sorted(set(groups) - set(order))
    return [group_score(name, groups[name]) for name in names]


def paired_difference(a: dict[str, bool], b: dict[str, bool], seed: int = 0, resamples: int = RESAMPLES,
                      confidence: float = CONFIDENCE) -> PairedDifference:
    """B's accuracy minus A's on the problems both answered (problem id → correct), with a paired percentile bootstrap.

    Raises ValueError when they share no problem. When every problem agrees (no discordant pair), or only one
    problem is shared, every resample gives the same difference, and so does the interval.
    """
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two evaluations share no problem")
    x = np.array([a[k] for k in shared], dtype=float)
    y = np.array([b[k] for k in shared], dtype=float)
    a_only, b_only = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
    difference = float(y.mean() - x.mean())
    if len(shared) < 2 or a_only == b_only == 0:
        low = high = difference
    else:
        result = stats.bootstrap((x, y), lambda u, v, axis=-1: v.mean(axis=axis) - u.mean(axis=axis), paired=True,
                                 vectorized=True, n_resamples=resamples, confidence_level=confidence,
                                 method="percentile", rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return PairedDifference(n=len(shared), a_accuracy=float(x.mean()), b_accuracy=float(y.mean()), difference=difference,
                            low=low, high=high, a_only=a_only, b_only=b_only, resamples=resamples, confidence=confidence)
