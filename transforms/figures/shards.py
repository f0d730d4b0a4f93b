"""Every written shard's rows, bytes and sha256, read by a worker off the file after the write.

A step after the writes (they emit each shard's path) opens each shard once on a worker through Beam's
FileSystems: the sha256 and byte count of the whole file, rows and uncompressed size from the Parquet
footer, the set's ``datasets`` features from its schema, and for the curriculum-ordered sets the
``extra_info`` ranges (one light column). Only these facts meet in one place.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import apache_beam as beam
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.figures import SetFigures, ShardFigures
from schemas.manifest import ShardInfo, ShardRange

CHUNK = 1 << 20


@dataclass
class ShardFacts:
    """One shard as a worker read it."""

    info: ShardInfo
    data_bytes: int
    features: dict | None
    unloadable: str | None
    range: ShardRange | None


def _range(shard: pq.ParquetFile, rel: str, rows: int) -> ShardRange | None:
    if not rows:
        return None
    info = shard.read(columns=["extra_info"])["extra_info"].combine_chunks()
    index, pass_rate, difficulty = (pc.struct_field(info, name) for name in ("index", "pass_rate", "difficulty"))
    return ShardRange(rel, rows, pc.min(index).as_py(), pc.max(index).as_py(), pc.min(pass_rate).as_py(),
                      pc.max(pass_rate).as_py(), pc.min(difficulty).as_py(), pc.max(difficulty).as_py())


def shard_facts(written: tuple[str, str], out: str, ordered: tuple[str, ...]) -> ShardFacts:
    """``(set name, shard path)`` → the shard's :class:`ShardFacts` (paths made relative to ``out``)."""
    name, path = written
    rel = path.removeprefix(out.rstrip("/") + "/")
    digest, size = hashlib.sha256(), 0
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
        fh.seek(0)
        shard = pq.ParquetFile(fh)
        footer = shard.metadata
        import datasets  # here, on the worker: the launcher that builds the graph never loads it (issue 29)

        try:
            features, unloadable = datasets.Features.from_arrow_schema(shard.schema_arrow).to_dict(), None
        except ValueError as exc:
            features, unloadable = None, str(exc).rstrip(".")
        ranged = _range(shard, rel, footer.num_rows) if name in ordered else None
    data_bytes = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    return ShardFacts(ShardInfo(config=name, path=rel, rows=footer.num_rows, bytes=size, sha256=digest.hexdigest()),
                      data_bytes, features, unloadable, ranged)


def shard_figures(facts: list[ShardFacts], set_order: tuple[str, ...]) -> ShardFigures:
    """The shards in set order (then path), each set's features (its first shard's) and size, the ordered sets' ranges."""
    facts = sorted(facts, key=lambda f: (set_order.index(f.info.config) if f.info.config in set_order else len(set_order),
                                         f.info.config, f.info.path))
    sets: dict[str, SetFigures] = {}
    for f in facts:
        if f.info.config not in sets:
            sets[f.info.config] = SetFigures(f.info.config, 0, f.features, f.unloadable)
        sets[f.info.config].data_bytes += f.data_bytes
    return ShardFigures(shards=[f.info for f in facts], sets=list(sets.values()),
                        curriculum=[f.range for f in facts if f.range is not None])


class ComputeShardFigures(beam.PTransform):
    """``(set name, shard path)`` of every written shard → one :class:`ShardFigures`."""

    def __init__(self, out: str, set_order: tuple[str, ...], ordered: tuple[str, ...]):
        super().__init__()
        self._out, self._order, self._ordered = out, set_order, ordered

    def expand(self, written):
        return (written | "ReadShard" >> beam.Map(shard_facts, self._out, self._ordered)
                | "Together" >> beam.combiners.ToList() | "ShardFigures" >> beam.Map(shard_figures, self._order))
