"""A bounded sample of the run's rows, written by the pipeline under ``_meta/sample/`` for the card and the report.

The sample is every row, in every set, of the problems whose id hashes lowest (sha1): the ``limit``
lowest of all problem ids, plus each set's lowest so every non-empty set has an example. A hash of
the id is uniform and the same on every run, so the sample is uniform and reproducible, and one
problem's rows are sampled together in every set (the report joins them by id).

Each set's candidate rows are gathered by a combiner that keeps the rows of its ``limit`` lowest
hashes (a set's problems are a subset of all, so they include every chosen one of that set); the
chosen hashes come from the ids alone; only then are the candidates filtered and written. No step
holds more than ``limit`` problems' rows of a set.
"""
from __future__ import annotations

import heapq
import posixpath
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from schemas.convert import rows_table, to_row
from schemas.figures import SampleFigures, sample_shard
from schemas.stages import FIGURES
from transforms.shards import stable_hash, write_shard


def record_key(record: Any, dotted: str) -> str:
    """The (dotted) key field of a record, e.g. ``extra_info.id`` of an RL row."""
    for part in dotted.split("."):
        record = getattr(record, part)
    return str(record)


class LowestHashes(beam.CombineFn):
    """``(hash, item)`` pairs → the items of the ``k`` lowest distinct hashes, as ``[(hash, [items])]`` sorted by hash.

    Hand-rolled because Beam's ``Top`` counts a repeated key once per element (a problem's k chains would
    take k places) and its ``ApproximateUnique`` sketch keeps hashes without their items.
    """

    def __init__(self, k: int):
        self._k = k

    def create_accumulator(self) -> dict[int, list]:
        return {}

    def _prune(self, acc: dict[int, list]) -> dict[int, list]:
        return dict(heapq.nsmallest(self._k, acc.items(), key=lambda kv: kv[0])) if len(acc) > 2 * self._k else acc

    def add_input(self, acc: dict[int, list], pair: tuple[int, Any]) -> dict[int, list]:
        h, item = pair
        acc.setdefault(h, []).append(item)
        return self._prune(acc)

    def merge_accumulators(self, accs) -> dict[int, list]:
        merged: dict[int, list] = {}
        for acc in accs:
            for h, items in acc.items():
                merged.setdefault(h, []).extend(items)
        return self._prune(merged)

    def extract_output(self, acc: dict[int, list]) -> list[tuple[int, list]]:
        return heapq.nsmallest(self._k, acc.items(), key=lambda kv: kv[0])


def _label(name: str) -> str:
    return name.replace("/", "_")


def _chosen(parts) -> frozenset[int]:
    return frozenset(h for part in parts for h in part)


class _WriteSample(beam.DoFn):
    """One set's candidate rows → the chosen ones as one Parquet file; emits ``(set name, rows)``.

    A row that does not fit the set's schema is left out of the sample and counted (``figures`` /
    ``sample_rows_unwritable``): the set's own writer dead-letters it."""

    def __init__(self, name: str, path: str, schema: pa.Schema):
        self._name, self._path, self._schema = name, path, schema
        self._unwritable = Metrics.counter(FIGURES.name, "sample_rows_unwritable")

    def _fits(self, row: dict) -> bool:
        try:
            rows_table([row], self._schema)
        except (pa.ArrowException, TypeError, ValueError):
            self._unwritable.inc()
            return False
        return True

    def process(self, groups: list[tuple[int, list]], chosen: frozenset[int]):
        rows = [row for h, records in groups if h in chosen for row in map(to_row, records) if self._fits(row)]
        if rows:
            write_shard(self._path, rows, self._schema)
        yield self._name, len(rows)


class SampleRows(beam.PTransform):
    """``{set name: records}`` → their sampled rows under ``out``/_meta/sample/<set>/; emits one :class:`SampleFigures`.

    ``sets`` maps each set name to ``(key field, Arrow schema)``.
    """

    def __init__(self, sets: dict[str, tuple[str, pa.Schema]], out: str, limit: int):
        super().__init__()
        self._sets, self._out, self._limit = sets, out, limit

    def expand(self, records: dict[str, beam.PCollection]):
        limit, names = self._limit, [n for n in self._sets if n in records]
        candidates, ids, written = {}, [], []
        for name in names:
            key, label = self._sets[name][0], _label(name)
            hashed = records[name] | f"Hash_{label}" >> beam.Map(lambda r, key=key: (stable_hash(record_key(r, key)), r))
            candidates[name] = hashed | f"Lowest_{label}" >> beam.CombineGlobally(LowestHashes(limit))
            ids.append(hashed | f"Id_{label}" >> beam.Map(lambda hr: (hr[0], None)))
        lowest = (tuple(ids) | "AllIds" >> beam.Flatten() | "LowestIds" >> beam.CombineGlobally(LowestHashes(limit))
                  | "Hashes" >> beam.Map(lambda groups: [h for h, _ in groups]))
        firsts = [candidates[n] | f"First_{_label(n)}" >> beam.Map(lambda groups: [h for h, _ in groups[:1]]) for n in names]
        chosen = (lowest, *firsts) | "ChosenParts" >> beam.Flatten() | "Chosen" >> beam.CombineGlobally(_chosen)
        side = beam.pvalue.AsSingleton(chosen)
        for name in names:
            path = posixpath.join(self._out, sample_shard(name))
            written.append(candidates[name] | f"Write_{_label(name)}" >> beam.ParDo(
                _WriteSample(name, path, self._sets[name][1]), side))
        parts = (chosen | "TagChosen" >> beam.Map(lambda c: ("problems", len(c))),
                 *(w | f"Tag_{_label(n)}" >> beam.Map(lambda nr: ("rows", nr)) for n, w in zip(names, written)))
        return (parts | "AllParts" >> beam.Flatten() | "Together" >> beam.combiners.ToList()
                | "Figures" >> beam.Map(_sample_figures, limit))


def _sample_figures(parts: list[tuple[str, Any]], limit: int) -> SampleFigures:
    problems = next(n for tag, n in parts if tag == "problems")
    return SampleFigures(problems=problems, limit=limit, sets=dict(sorted(nr for tag, nr in parts if tag == "rows")))
