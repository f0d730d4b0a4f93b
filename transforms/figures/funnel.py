"""The funnel per source, counted by workers: rows read (and sampled out), kept rows, rejects by ``stage/reason``."""
from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from schemas.figures import FunnelFigures
from schemas.manifest import SourceCounts

READ, SAMPLED_OUT, KEPT, DROPPED, DEAD = "read", "sampled_out", "kept", "dropped", "dead_lettered"


def _read(count) -> list[tuple[tuple[str, str, str], int]]:
    return [((count.source, READ, ""), count.rows), ((count.source, SAMPLED_OUT, ""), count.sampled_out)]


def _reject(row, kind: str) -> tuple[tuple[str, str, str], int]:
    return (row.source, kind, f"{row.stage}/{row.reason}"), 1


def funnel_figures(totals: Iterable[tuple[tuple[str, str, str], int]]) -> FunnelFigures:
    """``((source, count, reason), n)`` totals as one :class:`FunnelFigures` (sources and reasons sorted)."""
    by_source: dict[str, SourceCounts] = {}
    for (source, kind, reason), n in sorted(totals):
        counts = by_source.setdefault(source, SourceCounts(read=0, kept=0))
        if kind in (DROPPED, DEAD):
            getattr(counts, kind)[reason] = n
        else:
            setattr(counts, kind, getattr(counts, kind) + n)
    return FunnelFigures(by_source=by_source)


class ComputeFunnel(beam.PTransform):
    """``{"read_counts", "kept", "dropped", "dead_letter"}`` PCollections (those a job has) → one :class:`FunnelFigures`.

    ``read_counts`` holds ReadCounts, ``kept`` any records with a ``source`` (SFT rows of a run, problems of
    ``mmcot dedup``, items of ``mmcot evaluate``), the other two RejectRows; each is summed per source (and reason)
    by a combiner, so only the totals meet in one place.
    """

    def expand(self, pcolls: dict[str, beam.PCollection]):
        totals = {"read_counts": ("ReadTotals", beam.FlatMap(_read)),
                  "kept": ("KeptTotals", beam.Map(lambda record: ((record.source, KEPT, ""), 1))),
                  "dropped": ("DroppedTotals", beam.Map(_reject, DROPPED)),
                  "dead_letter": ("DeadTotals", beam.Map(_reject, DEAD))}
        parts = tuple(pcolls[name] | label >> step for name, (label, step) in totals.items() if name in pcolls)
        return (parts | "AllTotals" >> beam.Flatten() | "SumPerKey" >> beam.CombinePerKey(sum)
                | "Together" >> beam.combiners.ToList() | "Funnel" >> beam.Map(funnel_figures))
