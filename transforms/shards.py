"""Parquet shards: a stable hash of a row's key, its shard number, the shard's file name, writing one shard.

Shared by the write stage and the figures computed on the workers (the row sample, chain points).
"""
from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.convert import rows_table

BATCH_ROWS = 256


def _sha1_64(key: str) -> int:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big")


def stable_hash(key: str) -> int:
    """A 63-bit hash of ``key``, the same on every worker and run (Python's ``hash`` of a string is salted per
    process); 63 bits so Beam's integer coder (signed 64-bit) carries it."""
    return _sha1_64(key) >> 1


def shard_of(key: str, num_shards: int) -> int:
    """A stable shard number for ``key`` (the same on every worker and run)."""
    return _sha1_64(key) % num_shards


def shard_path(directory: str, split: str, index: int, num_shards: int) -> str:
    """``<directory>/<split>-00000-of-00004.parquet``, the Hugging Face naming."""
    return posixpath.join(directory, f"{split}-{index:05d}-of-{num_shards:05d}.parquet")


def write_shard(path: str, rows: Iterable[dict[str, Any]], schema: pa.Schema) -> int:
    """Write ``rows`` to one Parquet file in batches; returns the row count."""
    tmp = path + ".tmp"
    count = 0
    with FileSystems.create(tmp) as sink, pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                writer.write_table(rows_table(batch, schema))
                count += len(batch)
                batch = []
        if batch:
            writer.write_table(rows_table(batch, schema))
            count += len(batch)
    FileSystems.rename([tmp], [path])
    return count
