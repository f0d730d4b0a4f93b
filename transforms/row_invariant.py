"""The one invariant every training row holds, checked by every row writer and by the consumer tests.

A row (SFT, RL, preference, their TRL twins; a dataclass or the dict a Parquet reader gives) is
written only when:

- its **media markers** across the whole conversation (prompt, responses, chosen and rejected)
  equal its media: one ``<image>`` tag per image in the tagged layouts (verl, LLaMA-Factory, which
  count them over the whole conversation), one ``{"type": "image"}`` part per image in TRL's typed
  parts; else ``marker_mismatch``. The tags belong to the prompt: a marker in an assistant turn, a
  literal tag in a typed text part, or any other form (``<video>``, ``<image 2>`` …) is ``media_marker``;
- its **text** is free of the hygiene list (``transforms/verifiers/hygiene.py``, the run's
  ``verify.hygiene``): ``reserved_token``, ``control_chars``, ``bad_text``. An assistant turn may
  hold the one ``<think>…</think>`` pair the row writer wraps the reasoning in, and no other.

:func:`violation` gives the first break as a reason word and a detail (None when the row holds).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from transforms.verifiers.hygiene import IMAGE_MARKER, THINK_TAGS, Hygiene, HygieneSettings, hygiene, pieces_finds

CONVERSATION_FIELDS = ("messages", "prompt", "chosen", "rejected")


@dataclasses.dataclass(frozen=True)
class Violation:
    """Why a row may not be written: a reason word and where."""

    reason: str
    detail: str


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _messages(row: Any) -> Iterator[tuple[str, Any]]:
    """(field, message) for every message of the row's conversation."""
    for name in CONVERSATION_FIELDS:
        value = _get(row, name)
        for message in value if isinstance(value, list) else [] if value is None else [value]:
            yield name, message


def _assistant_text(text: str) -> str:
    """An assistant turn without the one reasoning pair the row writer puts around the reasoning."""
    open_tag, close_tag = THINK_TAGS
    if text.startswith(open_tag):
        text = text[len(open_tag):]
        return text.replace(close_tag, "", 1)
    return text


def _turn(role: str, content: Any) -> tuple[int, list[str]]:
    """(image markers, text pieces to check) of one turn: tags split out of a user's text, image parts counted."""
    if isinstance(content, list):
        texts = [_get(p, "text") or "" for p in content if _get(p, "type") != "image"]
        images = sum(_get(p, "type") == "image" for p in content)
        return images, [_assistant_text("".join(texts))] if role == "assistant" else texts
    text = content if isinstance(content, str) else ""
    if role == "assistant":
        return 0, [_assistant_text(text)]  # a tag here is a media_marker find
    pieces = text.split(IMAGE_MARKER)
    return len(pieces) - 1, pieces


def violation(row: Any, settings: HygieneSettings | None = None) -> Violation | None:
    """The first way ``row`` breaks the invariant (under ``settings``, default ``verify.hygiene``), or None."""
    check: Hygiene = hygiene(settings or HygieneSettings())
    markers = 0
    for name, message in _messages(row):
        role = _get(message, "role") or ""
        count, texts = _turn(role, _get(message, "content"))
        if count and role == "assistant":
            return Violation("media_marker", f"{name}: an image in an assistant turn")
        markers += count
        finds = pieces_finds(texts, check)
        if finds:
            return Violation(finds[0], f"{name} ({role} turn): {', '.join(finds)}")
    images = len(_get(row, "images") or [])
    if markers != images:
        return Violation("marker_mismatch", f"{markers} image marker(s) for {images} image(s)")
    return None
