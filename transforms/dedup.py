"""Exact dedup of problems before any teacher call.

Two problems are duplicates when their normalized question, normalized choices and the set of
their images' pixel hashes are equal. Duplicates are grouped by that key with a GroupByKey (no
worker holds a global index); the survivor is the smallest id, the others are dropped with
reason ``duplicate`` and the survivor's id.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.outputs import RejectRow
from schemas.problem import Problem
from transforms.tags import DROPPED

_LATEX_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b")
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case-folded text without LaTeX spacing commands, punctuation or repeated whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _LATEX_SPACING.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def exact_key(problem: Problem) -> str:
    """The dedup key: question, choices and the set of image pixel hashes."""
    parts = [normalize_text(problem.question)]
    parts += [normalize_text(c) for c in problem.choices]
    parts += sorted(m.sha256 for m in problem.image_meta)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class _PickSurvivorFn(beam.DoFn):
    def __init__(self):
        self._dups = Metrics.counter("dedup", "duplicates")

    def process(self, keyed):
        _, group = keyed
        problems = sorted(group, key=lambda p: p.id)
        survivor = problems[0]
        yield survivor
        for dup in problems[1:]:
            self._dups.inc()
            yield beam.pvalue.TaggedOutput(
                DROPPED,
                RejectRow(
                    row_id=dup.id,
                    source=dup.source,
                    stage="dedup",
                    reason="duplicate",
                    detail="same question, choices and images",
                    survivor_id=survivor.id,
                ),
            )


class ExactDedup(beam.PTransform):
    """Problems → unique Problems (main) and dropped duplicates."""

    def expand(self, problems):
        return (
            problems
            | "KeyByContent" >> beam.Map(lambda p: (exact_key(p), p))
            | "GroupByContent" >> beam.GroupByKey()
            | "PickSurvivor" >> beam.ParDo(_PickSurvivorFn()).with_outputs(DROPPED, main="unique")
        )
