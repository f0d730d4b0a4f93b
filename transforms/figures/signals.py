"""The card's chain-signal figures: each signal's distribution over correct and over wrong teacher chains.

:class:`SignalFiguresFn` is a Beam ``CombineFn`` over ``(verdict class, signals)`` pairs whose accumulator is
fixed-bin histograms, exact sums and counts: bounded whatever the run's size, and merged across workers as they
are. The pipeline's workers run it over the chains (:func:`generation_input`, into ``_meta/chains.json``); it runs
the same over a finished run's ``generations/`` tables (:func:`signal_figures`, for analysis after a run).
Quantiles are read off the histograms, to within a bin (:data:`BINS`).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa

from schemas.manifest import ChainSignalStats, Quantiles, SignalDistribution, SignalFigure
from schemas.signals import SIGNAL_NAMES

#: Each signal's bins: (low, high, count). Entropies in nats, the answer's mean log probability, a share.
BINS = {"mean_entropy": (0.0, 4.0, 40), "critical_entropy": (0.0, 4.0, 40), "answer_logprob": (-8.0, 0.0, 40),
        "low_confidence_share": (0.0, 1.0, 40)}
CLASSES = ("correct", "wrong")
COLUMNS = ["signals", "verdict", "provenance"]


def edges(name: str) -> list[float]:
    low, high, n = BINS[name]
    return [round(low + (high - low) * i / n, 6) for i in range(n + 1)]


def _bin(name: str, value: float) -> int:
    low, high, n = BINS[name]
    return min(n - 1, max(0, int((value - low) / (high - low) * n)))


def verdict_class(verdict: Any, provenance: str | None) -> str | None:
    """``correct``, ``wrong`` or None (a repair, an unverifiable or unverified chain: left out); ``verdict`` a dict."""
    if provenance not in (None, "teacher") or not verdict or verdict.get("unverifiable"):
        return None
    return "correct" if verdict.get("correct") else "wrong"


def generation_input(generation) -> list[tuple[str, dict[str, Any]]]:
    """The combiner's input from one :class:`~schemas.generation.Generation` (none when it has no signals or is left
    out by :func:`verdict_class`)."""
    verdict = generation.verdict
    kind = verdict_class(None if verdict is None else {"correct": verdict.correct, "unverifiable": verdict.unverifiable},
                         generation.provenance)
    if kind is None or generation.signals is None:
        return []
    return [(kind, dataclasses.asdict(generation.signals))]


def chain_inputs(table: pa.Table) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """The combiner's inputs from a table of :data:`COLUMNS` of ``generations/`` (a run without signals yields none)."""
    if "signals" not in table.column_names:
        return
    provenance = table["provenance"].to_pylist() if "provenance" in table.column_names else [None] * table.num_rows
    for signals, verdict, origin in zip(table["signals"].to_pylist(), table["verdict"].to_pylist(), provenance):
        kind = verdict_class(verdict, origin)
        if kind is not None and signals is not None:
            yield kind, signals


class SignalFiguresFn(beam.CombineFn):
    """(verdict class, signals as a dict) → :class:`ChainSignalStats` (without its plot)."""

    def create_accumulator(self) -> dict[str, Any]:
        return {"chains": 0, "unknown": Counter(),
                "hist": {(s, c): [0] * BINS[s][2] for s in SIGNAL_NAMES for c in CLASSES},
                "sum": {(s, c): 0.0 for s in SIGNAL_NAMES for c in CLASSES}}

    def add_input(self, acc: dict[str, Any], chain: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        kind, signals = chain
        if signals.get("unknown"):
            acc["unknown"][signals["unknown"]] += 1
            return acc
        acc["chains"] += 1
        for name in SIGNAL_NAMES:
            value = signals.get(name)
            if value is not None:
                acc["hist"][name, kind][_bin(name, value)] += 1
                acc["sum"][name, kind] += value
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict[str, Any]]) -> dict[str, Any]:
        merged = self.create_accumulator()
        for acc in accumulators:
            merged["chains"] += acc["chains"]
            merged["unknown"].update(acc["unknown"])
            for key, counts in acc["hist"].items():
                merged["hist"][key] = [a + b for a, b in zip(merged["hist"][key], counts)]
                merged["sum"][key] += acc["sum"][key]
        return merged

    def extract_output(self, acc: dict[str, Any]) -> ChainSignalStats:
        figures = [SignalFigure(name, edges(name), *(_distribution(name, acc["hist"][name, c], acc["sum"][name, c])
                                                     for c in CLASSES)) for name in SIGNAL_NAMES]
        return ChainSignalStats(chains=acc["chains"], unknown=dict(sorted(acc["unknown"].items())), figures=figures)


def _quantile(name: str, counts: list[int], q: float) -> float:
    """The ``q`` quantile read off a histogram (linear within the bin it falls in)."""
    bounds, rank, seen = edges(name), q * sum(counts), 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            return round(bounds[i] + (bounds[i + 1] - bounds[i]) * (rank - seen) / n, 4)
        seen += n
    return bounds[-1]


def _distribution(name: str, counts: list[int], total: float) -> SignalDistribution:
    n = sum(counts)
    if not n:
        return SignalDistribution(counts=counts)
    p10, p50, p90 = (_quantile(name, counts, q) for q in (0.1, 0.5, 0.9))
    return SignalDistribution(n=n, mean=round(total / n, 4), quantiles=Quantiles(p10, p50, p90), counts=counts)


def signal_figures(generations: list[pa.Table]) -> ChainSignalStats | None:
    """The figures over a finished run's ``generations/`` tables (:data:`COLUMNS`); None when no chain carries
    signals (``teacher.logprobs`` was off)."""
    fn = SignalFiguresFn()
    acc = fn.create_accumulator()
    for table in generations:
        for chain in chain_inputs(table):
            acc = fn.add_input(acc, chain)
    stats = fn.extract_output(acc)
    return stats if stats.chains or stats.unknown else None
