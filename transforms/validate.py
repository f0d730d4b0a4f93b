"""Validation at the boundary: what a source row may hold before any stage works on it.

A row is parsed safely (:func:`parse_json_line`), then each field is type- and size-checked
(:func:`question`, :func:`choices`, … ) with a reason of its own. Text follows one rule
(:func:`clean_text`): lone surrogates become U+FFFD and control characters other than tab,
newline and carriage return are removed; nothing else about the text changes. Image paths
are not text: a control character or NUL in a path is ``bad_path``, never cleaned away.

Reasons: ``malformed_row``, ``line_too_long``, ``number_too_long``, ``number_out_of_range``,
``bad_number``, ``nested_too_deep``, ``bad_id``, ``wrong_type``, ``missing_question``,
``missing_answer``, ``question_too_long``, ``answer_too_long``, ``text_too_long``,
``too_many_choices``, ``choice_too_long``, ``metadata_too_large``, ``too_many_images``,
``bad_path``, ``remote_image``.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import Field

from schemas.settings import Settings

LETTERS = 26  # the prompt names options A..Z
MAX_LINE_BYTES = 64 * 2**20  # a JSONL line above this is skipped unread (line_too_long)
MAX_ID_CHARS = 200
MAX_INT = 2**63  # integers beyond int64 are refused: no stage needs them and they cost to print
_CONTROL = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A, 0x0D))
_SURROGATE = re.compile("[\ud800-\udfff]")
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class LimitSettings(Settings):
    """Sizes a row may have; anything larger is dead-lettered before dedup or a teacher sees it."""

    max_question_chars: int = Field(default=20_000, gt=0, description="Longest question, in characters.")
    max_answer_chars: int = Field(default=2_000, gt=0, description="Longest gold answer, in characters.")
    max_text_chars: int = Field(default=20_000, gt=0, description="Longest caption, subject, unit or answer_type, in characters.")
    max_choices: int = Field(
        default=LETTERS, ge=2, le=LETTERS,
        description="Most multiple-choice options (at most 26: the prompt names them A–Z).",
    )
    max_choice_chars: int = Field(default=2_000, gt=0, description="Longest option, in characters.")
    max_metadata_bytes: int = Field(default=65_536, gt=0, description="Largest metadata, in characters of its JSON text.")
    max_depth: int = Field(default=16, ge=1, le=64, description="Deepest nesting of a row's values (metadata and other nested fields).")
    max_images: int = Field(default=16, ge=1, description="Most images per problem.")
    max_image_bytes: int = Field(default=32 * 2**20, gt=0, description="Largest encoded image, in bytes (default 32 MiB).")


class RowError(ValueError):
    """A row that cannot become a Problem; ``reason`` is the dead-letter word."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def clean_text(text: str) -> str:
    """The text rule: lone surrogates → U+FFFD, control characters except tab/newline/CR removed."""
    return _SURROGATE.sub("\ufffd", text).translate(_CONTROL)


def _reject_constant(name: str) -> None:
    raise RowError("bad_number", f"{name} is not a finite number")


def safe_loads(text: str) -> Any:
    """``json.loads`` whose every failure is a :class:`RowError` (huge integers, deep nesting, NaN included)."""
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RowError:
        raise
    except RecursionError:
        raise RowError("nested_too_deep", "JSON nesting exceeds the parser's depth") from None
    except json.JSONDecodeError as exc:
        raise RowError("malformed_row", str(exc)) from None
    except ValueError as exc:  # int digits limit
        raise RowError("number_too_long", str(exc)[:120]) from None
    return obj


def parse_json_line(text: str) -> dict[str, Any]:
    """One JSONL line as an object, or :class:`RowError`."""
    obj = safe_loads(text)
    if not isinstance(obj, dict):
        raise RowError("malformed_row", f"a line must be a JSON object, got {type(obj).__name__}")
    return obj


def check_tree(value: Any, max_depth: int, where: str) -> None:
    """Nesting depth and numbers of a parsed value, iteratively (deep input cannot exhaust the stack)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= max_depth:
                raise RowError("nested_too_deep", f"{where} nests deeper than {max_depth}")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
        elif isinstance(node, bool) or node is None or isinstance(node, (str, bytes)):
            continue
        elif isinstance(node, int) and abs(node) >= MAX_INT:
            raise RowError("number_out_of_range", f"{where} holds an integer beyond 64 bits")
        elif isinstance(node, float) and not math.isfinite(node):
            raise RowError("bad_number", f"{where} holds {node}")


def source_id(value: Any) -> str | None:
    """The source's own id as text (None: absent); :class:`RowError` ``bad_id`` if it cannot be one."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError("bad_id", f"id must be a string or an integer, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise RowError("bad_id", "id is an integer beyond 64 bits")
    text = clean_text(str(value)).strip()
    if not text or len(text) > MAX_ID_CHARS:
        raise RowError("bad_id", f"id is empty after cleaning or longer than {MAX_ID_CHARS} characters")
    return text


def text(fields: dict[str, Any], name: str, limit: int, required: bool = False, too_long: str = "text_too_long") -> str:
    """A text field, cleaned and stripped (numbers allowed for ``answer``); ``""`` when absent and optional."""
    value = fields.get(name)
    if name == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        check_tree(value, 1, name)
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"missing_{name}", f"{name} is empty or missing")
        return ""
    if not isinstance(value, str):
        raise RowError("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise RowError(too_long, f"{name} has {len(value)} characters (limit {limit})")
    return clean_text(value).strip()


def choices(value: Any, limits: LimitSettings) -> list[str]:
    """Options as a list of strings (a JSON list in a string is accepted); at most ``max_choices``."""
    if value is None:
        return []
    if isinstance(value, str):
        if len(value) > limits.max_choices * limits.max_choice_chars:
            raise RowError("choice_too_long", f"choices string has {len(value)} characters")
        try:
            value = safe_loads(value)
        except RowError as exc:
            raise RowError("wrong_type", f"choices is a string that is not a JSON list ({exc.reason})") from None
    if not isinstance(value, list) or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in value):
        raise RowError("wrong_type", "choices must be a list of strings")
    if len(value) > limits.max_choices:
        raise RowError("too_many_choices", f"{len(value)} choices; the prompt can name {limits.max_choices} (A-Z)")
    check_tree(value, 2, "choices")
    out = [clean_text(str(c)).strip() for c in value]
    if any(len(c) > limits.max_choice_chars for c in out):
        raise RowError("choice_too_long", f"a choice exceeds {limits.max_choice_chars} characters")
    return out


def metadata(value: Any, limits: LimitSettings) -> str:
    """Metadata as a canonical JSON object string, bounded in size and depth."""
    if value is None:
        return "{}"
    if isinstance(value, str):
        if len(value) > limits.max_metadata_bytes:
            raise RowError("metadata_too_large", f"metadata has {len(value)} characters (limit {limits.max_metadata_bytes})")
        try:
            value = safe_loads(value)
        except RowError as exc:
            raise RowError(exc.reason if exc.reason != "malformed_row" else "wrong_type", f"metadata: {exc.detail}") from None
    if not isinstance(value, dict):
        raise RowError("wrong_type", f"metadata must be an object or a JSON string, got {type(value).__name__}")
    check_tree(value, limits.max_depth, "metadata")
    encoded = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    if len(encoded) > limits.max_metadata_bytes:
        raise RowError("metadata_too_large", f"metadata has {len(encoded)} bytes as JSON (limit {limits.max_metadata_bytes})")
    return clean_text(encoded)


def is_url(path: str) -> bool:
    """Whether ``path`` starts with a URL scheme (``http:``, ``gs:``, ``file:`` …)."""
    return bool(_SCHEME.match(path))


def image_path(path: Any, remote_allowed: bool) -> str:
    """An image path as given, checked: a string, no control characters, no URL unless remote images are allowed."""
    if not isinstance(path, str) or not path:
        raise RowError("wrong_type", f"an image path must be a non-empty string, got {type(path).__name__}")
    if _PATH_CONTROL.search(path) or _SURROGATE.search(path) or len(path) > 4096:
        raise RowError("bad_path", f"image path {path[:80]!r} holds a NUL or control character, or is too long")
    if is_url(path) and not remote_allowed:
        raise RowError("remote_image", f"{path[:80]!r}: URLs are refused (normalize.remote_images is off)")
    return path


def image_entries(value: Any, limits: LimitSettings) -> list[tuple[bytes | None, Any]]:
    """Image entries as ``(bytes, path)``: bytes win (the path is then only a name, never opened)."""
    entries = [] if value is None else value if isinstance(value, list) else [value]
    if len(entries) > limits.max_images:
        raise RowError("too_many_images", f"{len(entries)} images (limit {limits.max_images})")
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            data = entry.get("bytes")
            if data is not None and not isinstance(data, (bytes, bytearray)):
                raise RowError("wrong_type", f"image bytes must be bytes, got {type(data).__name__}")
            if data is not None and len(data) > limits.max_image_bytes:
                raise RowError("image_too_large", f"{len(data)} bytes (limit {limits.max_image_bytes})")
            out.append((bytes(data) if data is not None else None, entry.get("path")))
        elif isinstance(entry, str):
            out.append((None, entry))
        else:
            raise RowError("wrong_type", f"image entry must be a path or {{bytes, path}}, got {type(entry).__name__}")
    return out
