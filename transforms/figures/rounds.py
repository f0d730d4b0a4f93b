"""The rounds' cross-round figures, computed by workers from each round's outcomes (ids only).

Each round's outcomes come from :class:`~transforms.sources.outcomes.RunOutcomes` (the id columns of its
``dead_letter/``, ``dropped/`` and kept sets); a round's rescued problems are its kept ids joined
(``CoGroupByKey``) with its input round's outcomes, and the problems kept by any round are the distinct kept ids
of every round, counted. Only the counts reach the launcher, as one :class:`~schemas.figures.RoundsFigures`.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from schemas.figures import RoundsFigures
from transforms.sources.outcomes import RunOutcomes


@dataclass(frozen=True)
class RoundRun:
    """One finished round: its name, its output directory and, when it takes an earlier round's problems, that
    round's output directory."""

    name: str
    output_dir: str
    source_dir: str | None = None


def _kept(pid_outcome) -> bool:
    return pid_outcome[1].outcome == "kept"


def _rescued(grouped) -> bool:
    """A problem kept now whose outcome in the input round was not ``kept`` (and that the input round had)."""
    _, joined = grouped
    return bool(joined["now"]) and any(o.outcome != "kept" for o in joined["before"])


def rounds_figures(parts: list[tuple[str, str, int]]) -> RoundsFigures:
    """The tagged counts (``("kept_total", "", n)``, ``("rescued", round, n)``) as one record."""
    figures = RoundsFigures()
    for tag, name, n in parts:
        if tag == "kept_total":
            figures.kept_total = n
        else:
            figures.rescued[name] = n
    return figures


class ComputeRoundsFigures(beam.PTransform):
    """PBegin → one :class:`RoundsFigures` over ``rounds`` (a run directory's outcomes are read once)."""

    def __init__(self, rounds: list[RoundRun]):
        super().__init__()
        self._rounds = rounds

    def expand(self, pbegin):
        dirs = sorted({d for r in self._rounds for d in (r.output_dir, r.source_dir) if d is not None})
        outcomes = {d: pbegin | f"Outcomes{i}" >> RunOutcomes(d) for i, d in enumerate(dirs)}
        kept = {r.name: outcomes[r.output_dir] | f"Kept[{r.name}]" >> beam.Filter(_kept) for r in self._rounds}
        parts = [tuple(kept.values()) | "AllKept" >> beam.Flatten() | "KeptIds" >> beam.Keys()
                 | "Distinct" >> beam.Distinct() | "CountKept" >> beam.combiners.Count.Globally()
                 | "TagKept" >> beam.Map(lambda n: ("kept_total", "", n))]
        for r in self._rounds:
            if r.source_dir is not None:
                parts.append({"now": kept[r.name], "before": outcomes[r.source_dir]} | f"Join[{r.name}]" >> beam.CoGroupByKey()
                             | f"Rescued[{r.name}]" >> beam.Filter(_rescued)
                             | f"CountRescued[{r.name}]" >> beam.combiners.Count.Globally()
                             | f"TagRescued[{r.name}]" >> beam.Map(lambda n, name: ("rescued", name, n), r.name))
        return (tuple(parts) | "AllParts" >> beam.Flatten() | "Together" >> beam.combiners.ToList()
                | "RoundsFigures" >> beam.Map(rounds_figures))
