"""Dedup stage: decontamination, exact and near-duplicate problems (before any teacher call).

``DedupProblems`` chains the problem passes — benchmark decontamination, exact duplicates,
near-duplicates (image-hash ranges, exact text Jaccard, guards; survivors without chaining) — each one a PTransform of its
own module; every removed problem goes to ``dropped`` with a reason (``contaminated``,
``duplicate``, ``near_duplicate``). Chain dedup (``chains.py``, ``MarkDuplicateChains``) is a stage of its
own, ``chain_dedup``, after verification.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam

from transforms.dedup.decontam import Decontaminate
from transforms.dedup.exact import ExactDedup, exact_key
from transforms.dedup.near import NearDedup
from transforms.dedup.settings import DedupSettings
from transforms.dedup.text import normalize_text
from transforms.tags import DROPPED

__all__ = ["DedupProblems", "DedupSettings", "ExactDedup", "NearDedup", "exact_key", "normalize_text"]


def _final_survivor(keyed):
    _, grouped = keyed
    later = list(grouped["later"])
    for row in grouped["earlier"]:
        if later:
            final = later[0].survivor_id
            row = dataclasses.replace(row, survivor_id=final, detail=f"{row.detail}; {row.survivor_id} is a near-duplicate of {final}")
        yield row


class FinalSurvivors(beam.PTransform):
    """Point exact duplicates at the final survivor when their own survivor was dropped as a near-duplicate."""

    def expand(self, pcolls):
        exact, near = pcolls
        return (
            {"earlier": exact | "BySurvivor" >> beam.Map(lambda r: (r.survivor_id, r)),
             "later": near | "ByRow" >> beam.Map(lambda r: (r.row_id, r))}
            | "Join" >> beam.CoGroupByKey()
            | "Resolve" >> beam.FlatMap(_final_survivor)
        )


class DedupProblems(beam.PTransform):
    """Problems → kept problems (tag ``kept``) and dropped ones (tag ``dropped``)."""

    def __init__(self, settings: DedupSettings):
        super().__init__()
        self._settings = settings

    def expand(self, problems):
        s = self._settings
        passes = []
        if s.decontam.benchmarks:
            passes.append(("Decontaminate", Decontaminate(s.decontam)))
        if s.exact:
            passes.append(("Exact", ExactDedup(s.preferred_sources)))
        if s.near_text.enabled:
            passes.append(("Near", NearDedup(s)))
        dropped = {}
        for name, transform in passes:
            result = problems | name >> transform
            problems = result.kept
            dropped[name] = result[DROPPED]
        if "Exact" in dropped and "Near" in dropped:
            dropped["Exact"] = (dropped["Exact"], dropped["Near"]) | "FinalSurvivors" >> FinalSurvivors()
        return {"kept": problems, DROPPED: tuple(dropped.values()) | "AllDropped" >> beam.Flatten(pipeline=problems.pipeline)}
