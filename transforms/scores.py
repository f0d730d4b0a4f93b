"""Judge scores → the run's scale: min-max normalization, judge difficulty, the quality gate.

R1V's controller reads scores in [0, 1]; they are min-max normalized over the run (the range
comes from a global combine, passed as a side input). A score whose run range is a single
value falls back to the fixed scale (s - 1) / 4. With ``difficulty_from: judge`` the
difficulty becomes the mean normalized score. The quality gate (an iteration's minimum
quality on the judge's 1–5 scale) drops problems the judge rated below it; a problem without
a judgement passes, with its ``judge_error`` recorded. This is the assess stage's part (its settings are
``assess``'s): it counts, drops and dead-letters under ``assess``.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.outputs import RejectRow
from schemas.plan import Assessment
from schemas.problem import Problem
from schemas.stages import ASSESS
from transforms.failures import guarded
from transforms.judgement import SCORE_FIELDS
from transforms.tags import DROPPED

Ranges = dict[str, tuple[float, float]]


class ScoreRangeFn(beam.CombineFn):
    """Per score field, the (min, max) over all judged assessments."""

    def create_accumulator(self) -> Ranges:
        return {}

    def add_input(self, acc: Ranges, assessment: Assessment) -> Ranges:
        for name in SCORE_FIELDS:
            value = getattr(assessment, name)
            if value is not None:
                lo, hi = acc.get(name, (value, value))
                acc[name] = (min(lo, value), max(hi, value))
        return acc

    def merge_accumulators(self, accumulators) -> Ranges:
        merged: Ranges = {}
        for acc in accumulators:
            for name, (lo, hi) in acc.items():
                mlo, mhi = merged.get(name, (lo, hi))
                merged[name] = (min(lo, mlo), max(hi, mhi))
        return merged

    def extract_output(self, acc: Ranges) -> Ranges:
        return acc


def normalize(value: float, bounds: tuple[float, float] | None) -> float:
    """``value`` min-max scaled to [0, 1]; the fixed 1–5 scale when the run's range is degenerate."""
    if bounds is None or bounds[1] <= bounds[0]:
        return (value - 1.0) / 4.0
    return (value - bounds[0]) / (bounds[1] - bounds[0])


def normalized(assessment: Assessment, ranges: Ranges, difficulty_from_judge: bool) -> Assessment:
    """The assessment with its scores on the run's [0, 1] scale (unchanged when it has no judgement)."""
    if assessment.vision_score is None:
        return assessment
    scores = {name: normalize(getattr(assessment, name), ranges.get(name)) for name in SCORE_FIELDS}
    if not difficulty_from_judge:
        return dataclasses.replace(assessment, **scores)
    return dataclasses.replace(assessment, **scores, difficulty=sum(scores.values()) / len(scores), difficulty_source="judge")


def below_quality(assessment: Assessment, min_quality: float) -> bool:
    """Whether the judge rated the problem below the iteration's minimum quality."""
    return assessment.quality is not None and assessment.quality < min_quality


class _GateFn(beam.DoFn):
    def __init__(self, difficulty_from_judge: bool, min_quality: float):
        self._from_judge = difficulty_from_judge
        self._min_quality = min_quality
        self._gated = Metrics.counter(ASSESS.name, "below_min_quality")

    def process(self, pair: tuple[Problem, Assessment], ranges: Ranges):
        problem, assessment = pair
        if below_quality(assessment, self._min_quality):
            self._gated.inc()
            yield beam.pvalue.TaggedOutput(DROPPED, RejectRow(
                row_id=problem.id, source=problem.source, stage=ASSESS.name, reason="below_min_quality",
                detail=f"judge quality {assessment.quality:.2f} < {self._min_quality} ({assessment.rationale or ''})"[:500],
            ))
            return
        yield problem, normalized(assessment, ranges, self._from_judge)


class ScaleScores(beam.PTransform):
    """Judged pairs → pairs with normalized scores (main) and problems below the minimum quality (dropped)."""

    def __init__(self, difficulty_from_judge: bool, min_quality: float):
        super().__init__()
        self._fn = _GateFn(difficulty_from_judge, min_quality)

    def expand(self, pairs):
        ranges = pairs | "Assessments" >> beam.Map(lambda pair: pair[1]) | "ScoreRanges" >> beam.CombineGlobally(ScoreRangeFn())
        normalize = beam.ParDo(self._fn, beam.pvalue.AsSingleton(ranges)).with_outputs(DROPPED, main="pairs")
        return pairs | "Normalize" >> guarded(ASSESS.name, normalize)
