"""Answers with several solutions: ``2, -3``, ``x=2 or x=-3``, ``\\{2, -3\\}``, ``x_1 = 2,\\ x_2 = -3``.

An answer splits at its top level (outside brackets and braces) on ``,``, ``;``, ``or``, ``and``
(bare or as ``\\text{ or }``) and ``\\quad``; each part loses an ``x =`` / ``x_1 =`` prefix. A
whole answer wrapped in set braces ``\\{…\\}`` is unwrapped first. A plain number with thousands
separators (``1,000``) is one solution; so is an interval or a tuple (``(1, 2]``, ``(1, 2)``), whose
comma is inside brackets.
"""
from __future__ import annotations

import re
from functools import lru_cache

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.normalize import clean_answer, parse_number

_WORD_SEP_RE = re.compile(r"\\(?:text|mathrm|textrm|mbox)\s*\{\s*(or|and)\s*\}|\\quad|\\qquad")
_SEPARATOR_RE = re.compile(r"[,;]|(?<![A-Za-z\\])(?:or|and)(?![A-Za-z])")
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=\s*(?=\S)")
_OPEN = "([{"
_CLOSE = ")]}"


def _top_level_split(s: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0:
            m = _SEPARATOR_RE.match(s, i)
            if m:
                parts.append(s[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(s[start:])
    return parts


@lru_cache(maxsize=4096)
def solutions(answer: str) -> tuple[str, ...]:
    """The solutions an answer lists (one element when it lists one); parts that are not math
    (``salt and pepper``) mean the answer is a single free-form phrase."""
    s = clean_answer(answer)
    if parse_number(s) is not None:
        return (s,)
    if s.startswith("\\{") and s.endswith("\\}") and "\\{" not in s[2:-2]:
        s = s[2:-2]
    s = _WORD_SEP_RE.sub(lambda m: f" {m.group(1) or ','} ", s)
    parts = [_ASSIGNMENT_RE.sub("", clean_answer(p)) for p in _top_level_split(s)]
    parts = [p for p in parts if p]
    if len(parts) < 2 or not all(looks_mathy(p) for p in parts):
        return (clean_answer(answer),)
    return tuple(parts)
