"""The config reference, generated from the settings models: the JSON Schema editors read, ``docs/config.md``,
and a config printed resolved with its defaults (``mmcot config schema|reference|check``).

The reference has one table per settings class, under the shortest dotted path that reaches it (the
teacher's keys are documented at ``teacher``; ``judge.endpoint`` links there). Cells are escaped for
Markdown tables (``|`` and HTML outside code spans), so the page renders the same on GitHub and MkDocs.
"""
from __future__ import annotations

import html
import inspect
import json
import re
import types
import typing
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from pipelines.config import PipelineConfig
from pipelines.rounds import RoundsSettings

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = {PipelineConfig: "configs/mmcot.schema.json", RoundsSettings: "configs/mmcot-rounds.schema.json"}
REFERENCE_FILE = "docs/config.md"
REGENERATE = "make config-docs"
LONG_DEFAULT = 80  # characters of JSON above which a default is summarized as its item count
_CONSTRAINTS = (("ge", "≥ {}"), ("gt", "> {}"), ("le", "≤ {}"), ("lt", "< {}"),
                ("min_length", "at least {} long"), ("max_length", "at most {} long"), ("pattern", "matches `{}`"))


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema (draft 2020-12) with its dialect named, as editors expect."""
    return {"$schema": SCHEMA_DIALECT, **model.model_json_schema()}


def schema_text(model: type[BaseModel]) -> str:
    """The JSON Schema file's text: indented, keys in field order, a final newline."""
    return json.dumps(json_schema(model), indent=2, ensure_ascii=False) + "\n"


def resolved_yaml(model: BaseModel) -> str:
    """A validated config as YAML with every key, defaults filled in (it validates again to the same config)."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)


def _members(annotation: Any) -> list[Any]:
    """``annotation`` unwrapped from Annotated, and split into its union members (None included)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _nested(annotation: Any, path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    """The settings models inside a field's annotation, each with the dotted path of its keys."""
    for member in _members(annotation):
        if _is_model(member):
            yield path, member
            continue
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin in (list, tuple, set, frozenset):
            for arg in args:
                yield from _nested(arg, f"{path}[]")
        elif origin is dict and len(args) == 2:
            yield from _nested(args[1], f"{path}.<name>")


def sections(root: type[BaseModel]) -> dict[type[BaseModel], str]:
    """Every settings model reachable from ``root``, with the shortest dotted path it is found at ("" for root)."""
    owner: dict[type[BaseModel], str] = {root: ""}
    queue = deque([root])
    while queue:
        model = queue.popleft()
        for name, field in model.model_fields.items():
            for path, nested in _nested(field.annotation, f"{owner[model]}.{name}".lstrip(".")):
                if nested not in owner:
                    owner[nested] = path
                    queue.append(nested)
    return owner


def _slug(heading: str) -> str:
    """The anchor GitHub and MkDocs (Python-Markdown's toc) give a heading."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", heading.lower()).strip())


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: HTML and ``|`` escaped outside `code` spans."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else html.escape(p, quote=False).replace("|", "&#124;") for p in parts)


def _type(annotation: Any, owner: dict[type[BaseModel], str]) -> str:
    members = _members(annotation)
    if len(members) > 1:
        return " or ".join(_type(m, owner) for m in members)
    member = members[0]
    origin, args = typing.get_origin(member), typing.get_args(member)
    if member is type(None):
        return "null"
    if _is_model(member):
        return f"[`{owner[member]}`](#{_slug(owner[member])})"
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return "[" + ", ".join(_type(a, owner) for a in args) + "]"
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type(args[0], owner)}" if args else "list"
    if origin is dict:
        return f"map of {_type(args[0], owner)} to {_type(args[1], owner)}" if args else "map"
    if member is Any:
        return "any"
    return f"`{getattr(member, '__name__', str(member))}`"


def _constraints(field: FieldInfo) -> list[str]:
    return [text.format(getattr(item, attr)) for item in field.metadata for attr, text in _CONSTRAINTS
            if getattr(item, attr, None) is not None]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True) if field.default is PydanticUndefined else field.default
    if isinstance(value, BaseModel) and value == type(value)():
        return "its keys' defaults"
    text = json.dumps(to_jsonable_python(value), ensure_ascii=False)
    if len(text) > LONG_DEFAULT or "|" in text or "`" in text:
        return f"{len(value)} items (listed in `{SCHEMA_FILES[PipelineConfig]}`)" if isinstance(value, (list, tuple, dict)) \
            else f"see `{SCHEMA_FILES[PipelineConfig]}`"
    return f"`{text}`"


def _doc_summary(model: type[BaseModel]) -> str:
    """The first paragraph of ``model``'s docstring, reST roles and double backticks made Markdown."""
    first = (inspect.getdoc(model) or "").split("\n\n")[0].replace("\n", " ")
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", first).replace("``", "`")


def _table(model: type[BaseModel], owner: dict[type[BaseModel], str]) -> list[str]:
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        kind = ", ".join([_type(field.annotation, owner), *_constraints(field)])
        rows.append(f"| `{name}` | {_cell(kind)} | {_cell(_default(field))} | {_cell(field.description or '')} |")
    return rows


def _in_page_order(model: type[BaseModel], owner: dict[type[BaseModel], str]) -> Iterator[type[BaseModel]]:
    """The sections below ``model`` in page order: each right after its parent, in field order."""
    for name, field in model.model_fields.items():
        for path, nested in _nested(field.annotation, f"{owner[model]}.{name}".lstrip(".")):
            if owner[nested] == path:
                yield nested
                yield from _in_page_order(nested, owner)


def _model_sections(root: type[BaseModel], title: str, intro: str) -> list[str]:
    owner = sections(root)
    lines = [f"## {title}", "", intro, "", *_table(root, owner), ""]
    for model in _in_page_order(root, owner):
        lines += [f"### `{owner[model]}`", "", _cell(_doc_summary(model)), "", *_table(model, owner), ""]
    return lines


def reference_markdown() -> str:
    """``docs/config.md``: every key of a run config and of a rounds file, with its type, default and description."""
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the settings models by `mmcot config reference` (`{REGENERATE}` rewrites this page and the",
        "JSON Schemas; a test fails when they are stale). Do not edit it by hand: change a field's `description` instead.",
        "",
        "A key's dotted path is its section's heading plus the key (`teacher.engine.dtype`); a list's items are",
        "`key[]`. An unknown key or a wrong type fails before anything runs, naming the key.",
        "`mmcot config check FILE` prints a config with every default filled in; `mmcot config schema` prints the",
        f"JSON Schema (shipped as `{SCHEMA_FILES[PipelineConfig]}`, `--rounds`: `{SCHEMA_FILES[RoundsSettings]}`) that",
        "editors read from a config's first line, `# yaml-language-server: $schema=./mmcot.schema.json`.",
        "",
        *_model_sections(PipelineConfig, "Run config", "What `mmcot run --config FILE` reads: one section per stage."),
        *_model_sections(RoundsSettings, "Rounds file", "What `mmcot rounds --config FILE` reads: a base run config and "
                                                        "the rounds that override it."),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
