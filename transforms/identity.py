"""One id names one problem: rows that repeat an id are dead-lettered or renamed, deterministically.

``RepeatedIds`` shuffles only (id, position) pairs — never a row's images — and yields the ids
seen more than once with their sorted positions (file, row number). The first position keeps
the id; with ``duplicate_ids: dead_letter`` the others are ``duplicate_id`` dead letters, with
``rename`` they become ``<id>#2``, ``<id>#3`` … in position order, the same on every runner.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import apache_beam as beam

from schemas.source import SourceRow
from transforms.validate import RowError

DuplicateIds = Literal["dead_letter", "rename"]


class RepeatedIds(beam.PTransform):
    """SourceRows → (id, [positions]) for every id that more than one row carries."""

    def expand(self, rows):
        return (
            rows
            | "Positions" >> beam.Map(lambda r: (r.row_id, (r.file, r.index)))
            | "ById" >> beam.GroupByKey()
            | "Repeated" >> beam.FlatMap(lambda kv: [(kv[0], sorted(kv[1]))] if len(kv[1]) > 1 else [])
        )


def unique_id(row: SourceRow, repeated: dict[str, list], mode: DuplicateIds) -> SourceRow:
    """``row`` as it may go on: unchanged, renamed, or :class:`RowError` ``duplicate_id``."""
    positions = repeated.get(row.row_id)
    if not positions:
        return row
    rank = positions.index((row.file, row.index))
    if rank == 0:
        return row
    if mode == "rename":
        return dataclasses.replace(row, row_id=f"{row.row_id}#{rank + 1}")
    first_file, first_index = positions[0]
    raise RowError("duplicate_id", f"id also names row {first_index} of {first_file.rsplit('/', 1)[-1]} (kept)")
