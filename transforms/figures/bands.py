"""Per-band figures of the length plan, combined on the workers: problems, chains, pass rate, token quantiles, signals.

Token quantiles come from Beam's ``ApproximateQuantilesCombineFn`` (Manku–Rajagopalan–Lindsay), so no
band's lengths are gathered in one place: with :data:`EPSILON` the reported value's rank is within
``EPSILON * N`` of the asked rank for N values (up to Beam's 10^9 elements), and the quantiles are
exact nearest-rank values (the smallest value with at least ``q * N`` values at or below it) while a
band holds fewer values than the sketch's buffer (thousands).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.transforms.stats import ApproximateQuantilesCombineFn

from schemas.figures import QUANTILE_POINTS, BandLengths
from schemas.manifest import BandStats, Quantiles, SignalStats
from schemas.plan import Assessment

EPSILON = 0.001
MEANS = ("clarity", "vision_score", "text_score", "integration_score", "quality")
_P10, _P50, _P90 = (round(q * (QUANTILE_POINTS - 1)) for q in (0.1, 0.5, 0.9))


@dataclass
class ProblemBand:
    """One problem's chains in one band: the teacher's samples (count, correct, decided, truncated, difficulty sum,
    lengths), repairs, the kept chain's length when the problem's band is this one, the assessment and chain scores."""

    samples: int = 0
    correct: int = 0
    decided: int = 0
    truncated: int = 0
    repaired: int = 0
    difficulty_sum: float = 0.0
    tokens: list[int] = field(default_factory=list)
    kept_tokens: list[int] = field(default_factory=list)
    assessment: Assessment | None = None
    chain_scores: list[float] = field(default_factory=list)
    scorers: list[str] = field(default_factory=list)


@dataclass
class _Signals:
    sources: Counter = field(default_factory=Counter)
    judged: int = 0
    sums: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    judge_models: set = field(default_factory=set)
    scores: Counter = field(default_factory=Counter)
    scorers: set = field(default_factory=set)

    def add(self, p: ProblemBand) -> None:
        a = p.assessment
        if a is not None:
            self.sources[a.difficulty_source] += 1
            self.judged += a.vision_score is not None
            for name in MEANS:
                if getattr(a, name) is not None:
                    self.sums[name] += getattr(a, name)
                    self.counts[name] += 1
            if a.judge_model:
                self.judge_models.add(a.judge_model)
        self.scores.update(p.chain_scores)
        self.scorers.update(p.scorers)

    def merge(self, other: _Signals) -> None:
        self.sources.update(other.sources)
        self.judged += other.judged
        self.sums.update(other.sums)
        self.counts.update(other.counts)
        self.judge_models |= other.judge_models
        self.scores.update(other.scores)
        self.scorers |= other.scorers

    def stats(self) -> SignalStats:
        scored = sum(self.scores.values())
        return SignalStats(
            difficulty_sources=dict(sorted(self.sources.items())),
            judged=self.judged,
            **{f"{name}_mean": _mean(self.sums[name], self.counts[name]) for name in MEANS},
            judge_models=sorted(self.judge_models),
            scored_chains=scored,
            chain_score_mean=_mean(sum(s * n for s, n in self.scores.items()), scored),
            chain_scores={f"{s:g}": n for s, n in sorted(self.scores.items())},
            scorers=sorted(self.scorers),
        )


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 4) if n else None


@dataclass
class _Band:
    problems: int = 0
    samples: int = 0
    correct: int = 0
    truncated: int = 0
    repaired: int = 0
    kept: int = 0
    pass_sum: float = 0.0
    passed_problems: int = 0
    difficulty_sum: float = 0.0
    signals: _Signals = field(default_factory=_Signals)
    sampled_q: object = None
    kept_q: object = None


def _quantiles(points: list) -> Quantiles:
    if not points:
        return Quantiles()
    return Quantiles(*(round(float(points[i]), 1) for i in (_P10, _P50, _P90)))


class BandCombineFn(beam.CombineFn):
    """:class:`ProblemBand` facts of one band → ``(BandStats without its name, BandLengths without its name)``.

    Chains, pass rate and the quantiles of all chains count the teacher's samples (repairs apart); the pass rate
    is the mean over problems with a decided sample of their share of correct ones (unverifiable samples are
    neither); the difficulty is the mean over problems of their samples' mean difficulty.
    """

    def __init__(self):
        self._q = ApproximateQuantilesCombineFn.create(QUANTILE_POINTS, epsilon=EPSILON, input_batched=True)

    def create_accumulator(self) -> _Band:
        return _Band(sampled_q=self._q.create_accumulator(), kept_q=self._q.create_accumulator())

    def add_input(self, acc: _Band, p: ProblemBand) -> _Band:
        acc.signals.add(p)
        acc.repaired += p.repaired
        acc.kept += len(p.kept_tokens)
        acc.kept_q = self._q.add_input(acc.kept_q, p.kept_tokens)
        if p.samples:
            acc.problems += 1
            acc.samples += p.samples
            acc.correct += p.correct
            acc.truncated += p.truncated
            acc.difficulty_sum += p.difficulty_sum / p.samples
            if p.decided:
                acc.pass_sum += p.correct / p.decided
                acc.passed_problems += 1
            acc.sampled_q = self._q.add_input(acc.sampled_q, p.tokens)
        return acc

    def merge_accumulators(self, accs) -> _Band:
        accs = list(accs)
        merged = self.create_accumulator()
        for acc in accs:
            for name in ("problems", "samples", "correct", "truncated", "repaired", "kept", "pass_sum",
                         "passed_problems", "difficulty_sum"):
                setattr(merged, name, getattr(merged, name) + getattr(acc, name))
            merged.signals.merge(acc.signals)
        merged.sampled_q = self._q.merge_accumulators([a.sampled_q for a in accs])
        merged.kept_q = self._q.merge_accumulators([a.kept_q for a in accs])
        return merged

    def extract_output(self, acc: _Band) -> tuple[BandStats, BandLengths]:
        sampled, kept = self._q.extract_output(acc.sampled_q), self._q.extract_output(acc.kept_q)
        stats = BandStats(
            name="", problems=acc.problems, chains=acc.samples, correct_chains=acc.correct,
            truncated_chains=acc.truncated, pass_rate=round(acc.pass_sum / acc.passed_problems, 4) if acc.passed_problems else 0.0,
            kept=acc.kept, difficulty_mean=round(acc.difficulty_sum / acc.problems, 4) if acc.problems else 0.0,
            repaired_chains=acc.repaired, tokens_all=_quantiles(sampled), tokens_kept=_quantiles(kept),
            signals=acc.signals.stats())
        return stats, BandLengths("", [float(v) for v in sampled], [float(v) for v in kept])
