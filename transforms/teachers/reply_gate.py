"""The one gate a teacher's reply passes before anything reads it: a reply is untrusted input.

Every backend's answer and every cache entry read back reaches a stage only through
:func:`checked`, which :class:`~transforms.teacher_calls.TeacherCallFn` calls on its one ask path;
the HTTP and batch backends turn a response body into a :class:`Completion` with
:func:`parse_body` and :func:`completion_from_body` first. What is accepted and what becomes what:

- **body**: JSON of at most :data:`MAX_BODY_BYTES`, UTF-8. Failures are :class:`TeacherError` with
  the reason ``too_large``, ``bad_text`` (not UTF-8), ``nested_too_deep`` (past the parser's depth),
  ``not_json``, ``bad_response`` (not an object, a choice or message that is not an object),
  ``no_choices`` (``choices`` missing, empty or not a list). Integers of more than
  :data:`MAX_INT_DIGITS` digits parse as infinity (so a 10^5-digit usage count is an out-of-range
  count, not a parser error).
- **content** and **reasoning** (``reasoning_content`` or ``reasoning``): a string, or typed parts
  (``[{"type": "text", "text": ...}]``, also ``output_text``) joined in order; anything else is
  ``bad_content``; a message with only a ``refusal`` is ``refusal``. Together at most
  :data:`MAX_TEXT_CHARS` characters (``too_large``); a lone surrogate anywhere is ``bad_text``
  (it cannot be stored as UTF-8). Special tokens, markers and control characters pass here:
  they are the verify stage's chain hygiene (``transforms/verifiers/hygiene.py``).
- **finish_reason**: one of :data:`FINISH_REASONS` (case and spaces ignored), else ``unknown``;
  absent or null is ``missing``. The verify stage keeps only ``stop`` chains (``length`` is truncated).
- **usage**: each count an integer (an integral float too) from 0 to :data:`MAX_TOKENS`; anything
  else (negative, fractional, a string, huge, absent) is unknown (None), counted as
  ``usage_out_of_range`` or ``usage_missing``. Latency outside 0 to :data:`MAX_LATENCY_S` seconds
  becomes 0 (``latency_out_of_range``).

Hand-rolled rather than a pydantic model of the response: a model would reject the whole reply
for one bad usage field, where the gate keeps the chain and marks the count unknown.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from transforms.teachers.base import Completion, TeacherError

MAX_BODY_BYTES = 64 * 2**20
MAX_TEXT_CHARS = 16 * 2**20
MAX_TOKENS = 10_000_000  # far above any context length; fits the int32 columns of every output set
MAX_LATENCY_S = 7 * 86_400.0
MAX_INT_DIGITS = 24
FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "function_call", "abort")
KEPT_FINISH = "stop"
TEXT_PARTS = ("text", "output_text")
REASONS = ("too_large", "bad_text", "nested_too_deep", "not_json", "bad_response", "no_choices", "bad_content",
           "refusal")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DETAIL_CHARS = 200


def _bounded_int(digits: str) -> int | float:
    """A JSON integer; one of more than :data:`MAX_INT_DIGITS` digits is ±infinity (never a 10^5-digit int)."""
    if len(digits) > MAX_INT_DIGITS:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def _kind(value: Any) -> str:
    return type(value).__name__


def parse_body(raw: bytes | str) -> Any:
    """A reply body as JSON; every failure is a :class:`TeacherError` with one of the reasons above."""
    if len(raw) > MAX_BODY_BYTES:
        raise TeacherError("too_large", f"a reply body of {len(raw)} bytes (at most {MAX_BODY_BYTES})")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_int=_bounded_int)
    except UnicodeError as exc:
        raise TeacherError("bad_text", f"the reply body is not UTF-8: {exc}"[:_DETAIL_CHARS]) from None
    except RecursionError:
        raise TeacherError("nested_too_deep", "the reply body nests deeper than the JSON parser goes") from None
    except MemoryError:
        raise TeacherError("too_large", "the reply body does not fit in memory") from None
    except ValueError as exc:  # JSONDecodeError included
        raise TeacherError("not_json", f"the reply body is not JSON: {exc}"[:_DETAIL_CHARS]) from None


def text_of(value: Any, name: str) -> str:
    """A content or reasoning field as one string: a string as it is, typed text parts joined, None as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise TeacherError("bad_content", f"{name} is a {_kind(value)}, not text or typed parts")
    pieces = []
    for part in value:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in TEXT_PARTS or not isinstance(part.get("text"), str):
            shown = kind if isinstance(kind, str) else _kind(part)
            raise TeacherError("bad_content", f"{name} holds a part of type {shown[:40]!r}, not text")
        pieces.append(part["text"])
    return "".join(pieces)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TeacherError("bad_response", f"{name} is a {_kind(value)}, not an object")
    return value


def completion_from_body(body: Any, latency_s: float) -> Completion:
    """The first choice of an OpenAI chat response as a Completion whose fields :func:`checked` has yet to check
    (content and reasoning as sent: text or typed parts)."""
    if not isinstance(body, dict):
        raise TeacherError("bad_response", f"the reply is a {_kind(body)}, not an object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise TeacherError("no_choices", f"choices is {'empty' if choices == [] else 'a ' + _kind(choices)}")
    choice = _object(choices[0], "choices[0]")
    message = _object(choice.get("message"), "choices[0].message")
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if not content and not reasoning and message.get("refusal"):
        raise TeacherError("refusal", "the message holds only a refusal")
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Completion(content=content, reasoning=reasoning, finish_reason=choice.get("finish_reason"),
                      prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                      latency_s=latency_s)


def finish_reason(value: Any) -> str:
    """The finish reason as one word of :data:`FINISH_REASONS`, ``missing`` or ``unknown``."""
    if value is None or value == "":
        return "missing"
    word = value.strip().lower() if isinstance(value, str) else None
    return word if word in FINISH_REASONS else "unknown"


def token_count(value: Any) -> int | None:
    """A usage count from 0 to :data:`MAX_TOKENS` (an integral float too); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value) if 0 <= value <= MAX_TOKENS else None


@dataclass(frozen=True)
class Checked:
    """A completion every field of which is checked, and the counters its repairs add (``usage_out_of_range`` …)."""

    completion: Completion
    notes: list[str] = field(default_factory=list)


def checked(completion: Completion) -> Checked:
    """The gate: ``completion`` (from any backend or the cache) with every field checked and bounded, typed text
    parts joined.

    Raises :class:`TeacherError` (``bad_content``, ``too_large``, ``bad_text``) for a reply no stage can use.
    """
    content = text_of(completion.content, "content")
    reasoning = None if completion.reasoning is None else text_of(completion.reasoning, "reasoning")
    size = len(content) + len(reasoning or "")
    if size > MAX_TEXT_CHARS:
        raise TeacherError("too_large", f"{size} characters of content and reasoning (at most {MAX_TEXT_CHARS})")
    for name, text in (("content", content), ("reasoning", reasoning or "")):
        found = _SURROGATE.search(text)
        if found:
            raise TeacherError("bad_text", f"{name} holds a lone surrogate U+{ord(found.group()):04X} at {found.start()}")
    notes = []
    counts = []
    for value in (completion.prompt_tokens, completion.completion_tokens):
        count = token_count(value)
        if count is None:
            notes.append("usage_missing" if value is None else "usage_out_of_range")
        counts.append(count)
    latency = completion.latency_s
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= MAX_LATENCY_S:
        notes.append("latency_out_of_range")
        latency = 0.0
    gated = Completion(content=content, reasoning=reasoning, finish_reason=finish_reason(completion.finish_reason),
                       prompt_tokens=counts[0], completion_tokens=counts[1], latency_s=float(latency))
    return Checked(gated, notes)
