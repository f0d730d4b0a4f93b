"""The keys a settings model accepts at a place in a config, and the nearest one to a mistyped key.

A validation error's location (``("teacher", "engine", "dtyp")``, ``("sources", 0, "colums")``) is
followed through the settings models' field annotations: optional and annotated types are unwrapped,
a list index or a dict key steps into the item type, a union member is picked by the class name
pydantic puts in the location (else the first member that has the field).
"""
from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel


def _members(annotation: Any) -> list[Any]:
    """``annotation`` unwrapped: Annotated → its type; a union → its members but None."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one location part below ``annotation`` (None when the location leaves the settings models)."""
    members = _members(annotation)
    named = [m for m in members if getattr(m, "__name__", None) == part]
    if named:  # pydantic names the union member it tried
        return named[0]
    for member in members:
        if _is_model(member):
            if isinstance(part, str) and part in member.model_fields:
                return member.model_fields[part].annotation
            continue
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
            return args[0]
        if origin is dict and len(args) == 2:
            return args[1]
    return None


def keys_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the settings model at ``loc`` (a location below ``root``) accepts; empty when none is there."""
    node: Any = root
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    model = next((m for m in _members(node) if _is_model(m)), None)
    return list(model.model_fields) if model else []


def nearest_key(root: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    """The valid key nearest to the unknown one ``loc`` ends with, as a dotted key (None when none is close)."""
    *parents, unknown = loc
    close = difflib.get_close_matches(str(unknown), keys_at(root, tuple(parents)), n=1)
    return ".".join(str(p) for p in (*parents, close[0])) if close else None
