"""Exact dedup: equal normalized question, numbers and choices, and the same set of image pixel hashes.

Numbers enter the key normalized (:func:`~transforms.dedup.quantities.canonical`), since
:func:`~transforms.dedup.text.normalize_text` alone folds ``-3`` into ``3`` and ``1.5`` into ``15``.

Duplicates are grouped by that key with a GroupByKey (no worker holds a global index); the
survivor is the first by :func:`~transforms.dedup.components.survivor_rank`, the others are
dropped with reason ``duplicate`` and the survivor's id.
"""
from __future__ import annotations

import hashlib

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.outputs import RejectRow
from schemas.problem import Problem
from schemas.stages import DEDUP
from transforms.dedup.components import survivor_rank
from transforms.dedup.quantities import canonical
from transforms.failures import guarded
from transforms.tags import DROPPED


def exact_key(problem: Problem) -> str:
    """The dedup key: question, choices (numbers normalized) and the set of image pixel hashes."""
    parts = [canonical(problem.question)]
    parts += [canonical(c) for c in problem.choices]
    parts += sorted(m.sha256 for m in problem.image_meta)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def duplicate_row(dup: Problem, survivor_id: str, reason: str, detail: str) -> RejectRow:
    """The ``dropped`` row of a problem that duplicates ``survivor_id``."""
    return RejectRow(row_id=dup.id, source=dup.source, stage=DEDUP.name, reason=reason, detail=detail, survivor_id=survivor_id)


class _PickSurvivorFn(beam.DoFn):
    def __init__(self, preferred_sources: list[str]):
        self._preferred = preferred_sources
        self._dups = Metrics.counter(DEDUP.name, "duplicates")

    def process(self, keyed):
        _, group = keyed
        problems = sorted(group, key=lambda p: survivor_rank(p, self._preferred))
        survivor = problems[0]
        yield survivor
        for dup in problems[1:]:
            self._dups.inc()
            yield beam.pvalue.TaggedOutput(
                DROPPED, duplicate_row(dup, survivor.id, "duplicate", "same question, choices and images")
            )


class ExactDedup(beam.PTransform):
    """Problems → unique Problems (main) and dropped duplicates."""

    def __init__(self, preferred_sources: list[str] | None = None):
        super().__init__()
        self._preferred = list(preferred_sources or [])

    def expand(self, problems):
        return (
            problems
            | "KeyByContent" >> guarded(DEDUP.name, beam.Map(lambda p: (exact_key(p), p)))
            | "GroupByContent" >> beam.GroupByKey()
            | "PickSurvivor" >> beam.ParDo(_PickSurvivorFn(self._preferred)).with_outputs(DROPPED, main="kept")
        )
