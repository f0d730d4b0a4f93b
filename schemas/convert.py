"""Record <-> row conversion shared by every schema module.

A record is a (possibly nested) dataclass; a row is the plain dict/list form that pyarrow and
Beam's Parquet IO read and write. Nested dataclasses, lists of them, optionals and
``dict[str, bool]`` (stored as an arrow struct of nullable booleans, null meaning absent) are
rebuilt from the dataclass type hints. :func:`rows_table` is the one place rows become an Arrow table: pyarrow's
``from_pylist`` drops a key the schema lacks and fills a missing one with null, silently; here either is an error
naming the field.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import pyarrow as pa

from schemas.derive import is_key_struct

T = TypeVar("T")


class RowMismatch(ValueError):
    """A row whose fields are not its schema's: ``field`` is the dotted name of the first one out of place."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"row field {field!r} {problem}")
        self.field = field


@dataclass(frozen=True)
class _Shape:
    """What :func:`check_row` checks of a struct type: its names, whether a row may leave some out (a ``Keys``
    struct), and the shape of each field that is a struct or a list of structs (``(shape, is_list)``)."""

    names: tuple[str, ...]
    partial: bool
    nested: dict[str, tuple[_Shape, bool]]


@cache
def _shape(kind: pa.StructType) -> _Shape:
    nested = {}
    for f in kind:
        inner, is_list = (f.type.value_type, True) if pa.types.is_list(f.type) else (f.type, False)
        if pa.types.is_struct(inner):
            nested[f.name] = (_shape(inner), is_list)
    return _Shape(tuple(f.name for f in kind), is_key_struct(kind), nested)


def _check(value: Any, shape: _Shape, path: str) -> None:
    if not isinstance(value, dict):
        return  # None, or a wrong type: pyarrow's own error names it
    extra = next((k for k in value if k not in shape.names), None)
    if extra is not None:
        raise RowMismatch(f"{path}{extra}", "is not in the schema (it would be dropped)")
    missing = None if shape.partial else next((n for n in shape.names if n not in value), None)
    if missing is not None:
        raise RowMismatch(f"{path}{missing}", "is missing (the schema has it)")
    for name, (inner, is_list) in shape.nested.items():
        item = value.get(name)
        if not is_list:
            _check(item, inner, f"{path}{name}.")
        elif isinstance(item, list):
            for element in item:
                _check(element, inner, f"{path}{name}[].")


def check_row(row: dict[str, Any], schema: pa.Schema) -> None:
    """Raise :class:`RowMismatch` when ``row`` (or a struct in it) has a field ``schema`` lacks or lacks one it has."""
    _check(row, _row_shape(schema), "")


@cache
def _row_shape(schema: pa.Schema) -> _Shape:
    return _shape(pa.struct(list(schema)))


def rows_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """``rows`` as a table of ``schema``, each row checked by :func:`check_row` first."""
    for row in rows:
        check_row(row, schema)
    return pa.Table.from_pylist(rows, schema=schema)


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
    return rows_table([to_row(r) for r in records], schema)


def from_table(cls: type[T], table: pa.Table) -> list[T]:
    """The rows of ``table`` as records of ``cls``."""
    return [from_row(cls, row) for row in table.to_pylist()]
