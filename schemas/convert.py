"""Record <-> row conversion shared by every schema module.

A record is a (possibly nested) dataclass; a row is the plain dict/list form that pyarrow and
Beam's Parquet IO read and write. Nested dataclasses, lists of them, optionals and
``dict[str, bool]`` (stored as an arrow struct of nullable booleans, null meaning absent) are
rebuilt from the dataclass type hints.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

import pyarrow as pa

T = TypeVar("T")


def to_row(record: Any) -> dict[str, Any]:
    """A dataclass instance as a plain dict (nested dataclasses become dicts)."""
    return dataclasses.asdict(record)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(tp):
        return from_row(tp, value)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if origin is dict:
        # stored as a struct of known keys: a key absent from the record comes back as None
        _, val_tp = typing.get_args(tp)
        return {k: _build(val_tp, v) for k, v in value.items() if v is not None}
    return value


def from_row(cls: type[T], row: dict[str, Any]) -> T:
    """Rebuild a dataclass from a row; keys the dataclass does not know are ignored."""
    hints = _hints(cls)
    kwargs = {f.name: _build(hints[f.name], row[f.name]) for f in dataclasses.fields(cls) if f.name in row}
    return cls(**kwargs)


def to_table(records: list[Any], schema: pa.Schema) -> pa.Table:
    """Records as a pyarrow table with ``schema`` (raises if a record does not fit it)."""
    return pa.Table.from_pylist([to_row(r) for r in records], schema=schema)


def from_table(cls: type[T], table: pa.Table) -> list[T]:
    """The rows of ``table`` as records of ``cls``."""
    return [from_row(cls, row) for row in table.to_pylist()]
