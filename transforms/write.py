"""Write stage: records → Parquet shards through Beam's FileSystems (local, GCS, S3 …).

Beam's own ``WriteToParquet`` is not used: on the DaskRunner (Beam 2.77) it wrote no file and
raised no error in our check. Grouping rows by a stable shard number and
writing each shard in one DoFn works on every runner. Shards are written to a temporary name
and renamed, so a half-written shard never looks finished. Each row is converted to the set's
Arrow schema when it is keyed (a guarded step), so a row that cannot be written (a field the schema lacks or
lacks, a value of the wrong type) is that row's dead letter, never a failed shard or a silently dropped field.
"""
from __future__ import annotations

import bisect
import posixpath
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.convert import rows_table, to_row
from schemas.figures import dumps
from schemas.stages import WRITE
from transforms.failures import guarded
from transforms.shards import shard_of, shard_path, write_shard


class WriteShards(beam.PTransform):
    """Records (dataclasses) → ``num_shards`` Parquet files under ``directory``; emits (path, rows)."""

    def __init__(self, directory: str, schema: pa.Schema, key_field: str, num_shards: int = 1, split: str = "train"):
        super().__init__()
        self._directory = directory
        self._schema = schema
        self._key_field = key_field
        self._num_shards = num_shards
        self._split = split

    def expand(self, records):
        n, key_field, schema = self._num_shards, self._key_field, self._schema
        directory, split = self._directory, self._split

        def _keyed(record) -> tuple[int, dict[str, Any]]:
            row = to_row(record)
            rows_table([row], schema)  # raises here, for this row, if the shard writer would
            return shard_of(str(_field(row, key_field)), n), row

        name = posixpath.basename(directory.rstrip("/"))
        written_rows, shards = Metrics.counter(WRITE.name, f"{name}_rows"), Metrics.counter(WRITE.name, f"{name}_shards")

        def _write(keyed: tuple[int, Iterable[dict[str, Any]]]):
            index, rows = keyed
            path = shard_path(directory, split, index, n)
            count = write_shard(path, rows, schema)
            written_rows.inc(count)
            shards.inc()
            yield path, count

        keyed = records | "KeyByShard" >> guarded(WRITE.name, beam.Map(_keyed))
        return keyed | "GroupShards" >> beam.GroupByKey() | "WriteShard" >> beam.FlatMap(_write)


def shard_plan(keys: list[tuple], num_shards: int) -> tuple[list[tuple], list[int]]:
    """Cut points and row offsets that split the sorted ``keys`` into ``num_shards`` contiguous, near-equal ranges.

    Shard ``s`` holds the keys ``>= cuts[s - 1]`` and ``< cuts[s]``; its first row is row ``offsets[s]`` of the whole order.
    """
    ordered = sorted(keys)
    offsets = [s * len(ordered) // num_shards for s in range(num_shards)]
    cuts = [ordered[o] for o in offsets[1:] if o < len(ordered)]
    return cuts, offsets


class WriteSortedShards(beam.PTransform):
    """Records → Parquet shards holding contiguous ranges of one total order (``sort_key``), each sorted inside.

    Only the sort keys meet in one place (to find the cut points); rows go to their shard by
    bisecting the cuts. ``number(record, i)`` gets each record's position ``i`` in the whole order
    before it is written. Emits (path, rows).
    """

    def __init__(self, directory: str, schema: pa.Schema, sort_key: Callable[[Any], tuple],
                 number: Callable[[Any, int], Any], num_shards: int = 1, split: str = "train"):
        super().__init__()
        self._directory, self._schema, self._split = directory, schema, split
        self._sort_key, self._number, self._num_shards = sort_key, number, num_shards

    def expand(self, records):
        n, sort_key, number, schema = self._num_shards, self._sort_key, self._number, self._schema
        directory, split = self._directory, self._split
        plan = (records | "SortKeys" >> beam.Map(sort_key) | "AllKeys" >> beam.combiners.ToList()
                | "Cuts" >> beam.Map(shard_plan, n))

        def _keyed(record, plan):
            cuts, _ = plan
            return bisect.bisect_right(cuts, sort_key(record)), record

        def _write(keyed: tuple[int, Iterable[Any]], plan):
            index, records = keyed
            offset = plan[1][index]
            rows = (to_row(number(r, offset + i)) for i, r in enumerate(sorted(records, key=sort_key)))
            path = shard_path(directory, split, index, n)
            yield path, write_shard(path, rows, schema)

        singleton = beam.pvalue.AsSingleton(plan)
        return (records | "KeyByRange" >> beam.Map(_keyed, singleton) | "GroupShards" >> beam.GroupByKey()
                | "WriteShard" >> beam.FlatMap(_write, singleton))


def write_json(record: Any, path: str) -> list:
    """Write one figures record to ``path`` as JSON (through a temporary name); returns nothing to emit."""
    with FileSystems.create(path + ".tmp") as sink:
        sink.write(dumps(record).encode("utf-8"))
    FileSystems.rename([path + ".tmp"], [path])
    return []


class WriteJson(beam.PTransform):
    """A PCollection of one record (a ``schemas.figures`` record) → ``path`` as JSON; emits nothing."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, record):
        return record | "WriteJson" >> beam.FlatMap(write_json, self._path)


def _field(row: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        row = row[part]
    return row
