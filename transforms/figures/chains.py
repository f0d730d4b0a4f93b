"""The chains' figures, computed by workers: totals, the bands (``bands.py``) and the length plots' data.

Each chain becomes a small :class:`ChainFact` (no text); the facts and the kept rows' lengths meet per
problem (``CoGroupByKey``), each problem's facts per band go to :class:`BandCombineFn`, and the totals
to a tuple of sums. A chain or kept row whose length is unknown (the reply gate refused the server's
count) is left out of the bands and the plots; its tokens count as 0 in the totals. The plots get every
band's token quantiles and a uniform sample (by hash) of at most ``point_limit`` chains and kept rows: a
scatter of every chain of a large run would gather a column.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from schemas.figures import ChainFigures, ChainPoint
from schemas.plan import Assessment
from transforms.figures.bands import EPSILON, BandCombineFn, ProblemBand
from transforms.figures.signals import SignalFiguresFn, generation_input
from transforms.shards import stable_hash

POINT_LIMIT = 2000
STATS = ("chains", "chains_from_cache", "prompt_tokens", "completion_tokens", "completion_tokens_incl_cache",
         "chains_correct", "chains_unverifiable", "chains_judged", "chains_truncated")


@dataclass
class ChainFact:
    """What the figures need of one chain. ``correct`` is None for an unverifiable chain (neither right nor wrong)."""

    band: str
    sample_index: int
    difficulty: float
    tokens: int | None
    correct: bool | None
    truncated: bool
    repaired: bool
    assessment: Assessment | None
    chain_score: float | None
    scorer: str | None


def chain_fact(g) -> tuple:
    """``(problem id, ChainFact)`` of a Generation."""
    verdict = g.verdict
    correct = None if verdict is not None and verdict.unverifiable else bool(verdict and verdict.correct)
    return g.problem_id, ChainFact(g.sampling.band, g.sample_index, g.difficulty, g.completion_tokens, correct,
                                   g.finish_reason == "length", g.provenance == "repair", g.assessment,
                                   g.chain_score, g.scorer)


def chain_totals(g) -> tuple[int, ...]:
    """One chain's contribution to each of :data:`STATS` (tokens of cached chains count only with the cache)."""
    fresh, verdict = not g.cached, g.verdict
    prompt, completion = g.prompt_tokens or 0, g.completion_tokens or 0
    return (1, int(g.cached), prompt if fresh else 0, completion if fresh else 0, completion,
            int(bool(verdict and verdict.correct)), int(bool(verdict and verdict.unverifiable)),
            int(bool(verdict and verdict.decided_by == "judge")), int(g.finish_reason == "length"))


def problem_bands(grouped: tuple) -> list[tuple[str, ProblemBand]]:
    """``(problem id, {"chains": ChainFacts, "kept": [(difficulty, tokens)]})`` → a :class:`ProblemBand` per band the
    problem has chains in; the kept chain counts in the band of the problem's last planned sample."""
    _, joined = grouped
    chains = [c for c in joined["chains"] if c.tokens is not None]
    kept = [k for k in joined["kept"] if k[1] is not None]
    bands: dict[str, ProblemBand] = {}
    for c in sorted(chains, key=lambda c: (c.repaired, c.sample_index)):
        p = bands.setdefault(c.band, ProblemBand())
        if p.assessment is None:
            p.assessment = c.assessment
        if c.chain_score is not None:
            p.chain_scores.append(c.chain_score)
            p.scorers.append(c.scorer or "")
        if c.repaired:
            p.repaired += 1
            continue
        p.samples += 1
        p.correct += bool(c.correct)
        p.decided += c.correct is not None
        p.truncated += c.truncated
        p.difficulty_sum += c.difficulty
        p.tokens.append(c.tokens)
    if kept and chains:
        last = max(chains, key=lambda c: (not c.repaired, c.sample_index))
        bands[last.band].kept_tokens.extend(tokens for _, tokens in kept)
    return list(bands.items())


def _point(g) -> list[tuple[int, ChainPoint]]:
    if g.completion_tokens is None:
        return []
    return [(stable_hash(f"{g.problem_id}\0{g.provenance}\0{g.sample_index}"),
             ChainPoint(g.difficulty, g.completion_tokens, bool(g.verdict and g.verdict.correct), g.provenance == "repair"))]


def _kept_point(row) -> list[tuple[int, ChainPoint]]:
    return [] if row.completion_tokens is None else [(stable_hash(row.id), ChainPoint(row.difficulty, row.completion_tokens, True))]


def _named(band: tuple) -> tuple:
    name, (stats, lengths) = band
    stats.name = lengths.name = name
    return stats, lengths


def chain_figures(parts: list[tuple[str, object]], point_limit: int) -> ChainFigures:
    """The tagged parts (``stats``, ``band``, ``points``, ``kept_points``, ``kept``, ``signals``) as one
    :class:`ChainFigures`."""
    by_tag: dict[str, list] = {}
    for tag, value in parts:
        by_tag.setdefault(tag, []).append(value)
    totals, signals = by_tag["stats"][0], by_tag["signals"][0]
    bands = sorted(by_tag.get("band", []), key=lambda b: (b[0].difficulty_mean, b[0].name))
    return ChainFigures(
        stats=dict(zip(STATS, totals)) if totals[0] else {},
        bands=[stats for stats, _ in bands],
        lengths=[lengths for _, lengths in bands],
        points=[p for _, p in sorted(by_tag["points"][0], key=lambda hp: hp[0])],
        kept_points=[p for _, p in sorted(by_tag["kept_points"][0], key=lambda hp: hp[0])],
        chains=totals[0], kept=by_tag["kept"][0], point_limit=point_limit, quantile_epsilon=EPSILON,
        signals=signals if signals.chains or signals.unknown else None)


class ComputeChainFigures(beam.PTransform):
    """``{"generations": Generations, "kept": SFT rows}`` → one :class:`ChainFigures`."""

    def __init__(self, point_limit: int = POINT_LIMIT):
        super().__init__()
        self._limit = point_limit

    def expand(self, pcolls: dict[str, beam.PCollection]):
        gens, kept, limit = pcolls["generations"], pcolls["kept"], self._limit
        sum_all = beam.combiners.TupleCombineFn(*(sum for _ in STATS))
        per_problem = {"chains": gens | "ChainFacts" >> beam.Map(chain_fact),
                       "kept": kept | "KeptFacts" >> beam.Map(lambda r: (r.id, (r.difficulty, r.completion_tokens)))}
        bands = (per_problem | "PerProblem" >> beam.CoGroupByKey() | "ProblemBands" >> beam.FlatMap(problem_bands)
                 | "PerBand" >> beam.CombinePerKey(BandCombineFn()) | "Named" >> beam.Map(_named))
        parts = (
            gens | "Totals" >> beam.Map(chain_totals) | "SumTotals" >> beam.CombineGlobally(sum_all)
            | "TagStats" >> beam.Map(lambda t: ("stats", t)),
            bands | "TagBands" >> beam.Map(lambda b: ("band", b)),
            gens | "Points" >> beam.FlatMap(_point) | "SomePoints" >> beam.combiners.Top.Smallest(limit, key=lambda hp: hp[0])
            | "TagPoints" >> beam.Map(lambda ps: ("points", ps)),
            kept | "KeptPoints" >> beam.FlatMap(_kept_point)
            | "SomeKeptPoints" >> beam.combiners.Top.Smallest(limit, key=lambda hp: hp[0])
            | "TagKeptPoints" >> beam.Map(lambda ps: ("kept_points", ps)),
            kept | "CountKept" >> beam.combiners.Count.Globally() | "TagKept" >> beam.Map(lambda n: ("kept", n)),
            gens | "SignalInputs" >> beam.FlatMap(generation_input) | "Signals" >> beam.CombineGlobally(SignalFiguresFn())
            | "TagSignals" >> beam.Map(lambda s: ("signals", s)),
        )
        return (parts | "AllParts" >> beam.Flatten() | "Together" >> beam.combiners.ToList()
                | "ChainFigures" >> beam.Map(chain_figures, limit))

