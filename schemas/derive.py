"""A record's Arrow schema and Hugging Face features, derived from its dataclass: one declaration per record.

Hand-written because neither library derives a schema from a dataclass: pyarrow infers types from values (an
empty list or a None says nothing, and every ``int`` becomes int64), and ``datasets`` builds ``Features`` from an
Arrow schema or by hand. The features are built in their JSON form (``Features.to_dict()``) and stored in the
schema's ``huggingface`` metadata, as ``Features.arrow_schema`` does, so deriving a schema never imports
``datasets`` (tens of MB in the launcher, issue 29); :func:`features` builds the real ``datasets.Features`` for a
card, Hub or consumer path that needs them.

Python type of a field → Arrow type / feature (every Arrow field is nullable, as ``datasets`` writes them):

- ``str`` → string, ``int`` → int64, ``float`` → float64, ``bool`` → bool, ``bytes`` → binary;
  :data:`Int32` → int32, :data:`Float32` → float32;
- ``X | None`` → the type of ``X`` (None is a null);
- ``list[X]`` → list of ``X``; a dataclass → a struct of its fields, in declaration order;
- ``Annotated[<dataclass>, IMAGE]`` → the dataclass's struct, declared as ``datasets.Image`` (decoded to PIL);
- ``Annotated[dict[str, V], Keys(names)]`` → a struct with one ``V`` per name, null where the dict lacks the name
  (an Arrow map is what ``datasets`` cannot load).
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import pyarrow as pa


@dataclass(frozen=True)
class Keys:
    """Marks ``dict[str, V]`` stored as a struct of the known ``names`` (an absent name is a null)."""

    names: tuple[str, ...]


class _Image:
    """Marks a ``{bytes, path}`` dataclass as a ``datasets.Image`` column."""

    def __repr__(self) -> str:
        return "IMAGE"


IMAGE = _Image()
Int32 = Annotated[int, pa.int32()]
Float32 = Annotated[float, pa.float32()]

_SCALARS: dict[type, pa.DataType] = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_(),
                                     bytes: pa.binary()}
_DTYPES = {pa.string(): "string", pa.int64(): "int64", pa.int32(): "int32", pa.float64(): "float64",
           pa.float32(): "float32", pa.bool_(): "bool", pa.binary(): "binary"}
"""Arrow scalar type → the ``dtype`` of ``datasets.Value``."""
_KEY_STRUCTS: set[pa.DataType] = set()
"""The struct types of :class:`Keys` fields: the only structs a row may leave names out of."""


@cache
def record_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, type hint with its Annotated markers)`` of each field of the dataclass ``cls``, in order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _unwrap(tp: Any) -> tuple[Any, tuple]:
    """``tp`` without ``| None`` and ``Annotated``, and the markers it carried."""
    markers: tuple = ()
    while True:
        if typing.get_origin(tp) is Annotated:
            markers += tp.__metadata__
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(inner) != 1:
                raise TypeError(f"a record field can be one type or None, not {tp}")
            tp = inner[0]
        else:
            return tp, markers


def _derive(tp: Any) -> tuple[pa.DataType, Any]:
    """The Arrow type and the feature (``Features.to_dict()`` form) of a field of type ``tp``."""
    tp, markers = _unwrap(tp)
    keys = next((m for m in markers if isinstance(m, Keys)), None)
    arrow = next((m for m in markers if isinstance(m, pa.DataType)), None)
    if keys is not None:
        _, value = typing.get_args(tp)
        item_type, item_feature = _derive(value)
        struct = pa.struct([(name, item_type) for name in keys.names])
        _KEY_STRUCTS.add(struct)
        return struct, {name: item_feature for name in keys.names}
    if dataclasses.is_dataclass(tp):
        struct, feature = _struct(tp)
        return struct, ({"_type": "Image"} if IMAGE in markers else feature)
    if typing.get_origin(tp) is list:
        item_type, item_feature = _derive(typing.get_args(tp)[0])
        return pa.list_(item_type), {"feature": item_feature, "_type": "List"}
    if arrow is None and tp not in _SCALARS:
        raise TypeError(f"no Arrow type for {tp!r}: use a scalar, a list, a dataclass or a marker of schemas.derive")
    arrow = arrow or _SCALARS[tp]
    if arrow not in _DTYPES:
        raise TypeError(f"no datasets Value for the Arrow type {arrow}: add it to schemas.derive._DTYPES")
    return arrow, {"dtype": _DTYPES[arrow], "_type": "Value"}


@cache
def _struct(cls: type) -> tuple[pa.StructType, dict[str, Any]]:
    derived = {name: _derive(tp) for name, tp in record_fields(cls)}
    return pa.struct([(name, t) for name, (t, _) in derived.items()]), {name: f for name, (_, f) in derived.items()}


def arrow_type(cls: type) -> pa.StructType:
    """The dataclass ``cls`` as an Arrow struct (a record nested in another record's column)."""
    return _struct(cls)[0]


def feature_dict(cls: type) -> dict[str, Any]:
    """The ``datasets`` features of ``cls``'s rows in their JSON form (``Features.to_dict()``)."""
    return _struct(cls)[1]


@cache
def arrow_schema(cls: type) -> pa.Schema:
    """The Arrow schema rows of ``cls`` are written with, carrying their ``datasets`` features (``huggingface``
    metadata, so ``datasets.load_dataset`` decodes images as PIL)."""
    metadata = {"huggingface": json.dumps({"info": {"features": feature_dict(cls)}})}
    return pa.schema(list(arrow_type(cls))).with_metadata(metadata)


def features(cls: type):
    """``cls``'s rows as ``datasets.Features`` (imports ``datasets``: for card, Hub and consumer paths only)."""
    import datasets

    return datasets.Features.from_dict(feature_dict(cls))


def is_key_struct(kind: pa.DataType) -> bool:
    """Whether ``kind`` is a :class:`Keys` field's struct, whose names a row may leave out."""
    return kind in _KEY_STRUCTS
