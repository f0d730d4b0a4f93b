"""Answers with several solutions: ``2, -3``, ``x=2 or x=-3``, ``\\{2, -3\\}``, ``{1,2,3}``,
``x_1 = 2,\\ x_2 = -3``, ``p=5,q=2;p=7,q=2``.

An answer splits at its top level (outside brackets and braces) on ``;`` first, then on ``,``,
``or``, ``and`` (bare or as ``\\text{ or }``) and ``\\quad``; an escaped character never splits
(the spacing commands ``\\,`` ``\\;`` ``\\!`` and ``~`` are spacing, not separators). A whole answer
wrapped in set braces (``\\{…\\}``, or plain ``{…}`` holding a list) is unwrapped first. A plain
number with thousands separators (``1,000``) is one solution; so is an interval or a tuple
(``(1, 2]``, ``(1, 2)``), whose comma is inside brackets.

Assignments: ``x = 2`` is the solution 2. Consecutive assignments to different letters are one
solution, a tuple (``p=5,q=2`` is the point ``(5, 2)``, components in the letters' order); an
assignment to a letter already in the tuple starts the next one (``x=2 or x=-3`` is two
solutions; so is ``x_1 = 2, x_2 = -3``, one letter with indices).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.normalize import clean_answer, parse_number

_WORD_SEP_RE = re.compile(r"\\(?:text|mathrm|textrm|mbox)\s*\{\s*(or|and)\s*\}|\\quad|\\qquad")
_SEPARATOR_RE = re.compile(r"[,;]|(?<![A-Za-z\\])(?:or|and)(?![A-Za-z])")
_ASSIGNMENT_RE = re.compile(r"^(?P<letter>[A-Za-z])(?P<index>_\{?\w{1,3}\}?)?(?:\s|\\[,;:! ]|~)*=(?:\s|\\[,;:! ]|~)*(?=\S)")
_GROUP_SEP_RE = re.compile(";")
#: Spacing around ``=`` (``x \\quad = \\quad 2``) is spacing, even ``\\quad``, which elsewhere separates.
_EQUALS_SPACING_RE = re.compile(r"(?:\s|\\q?quad|\\[,;:! ]|~)*=(?:\s|\\q?quad|\\[,;:! ]|~)*")
_SPACING_EDGE_RE = re.compile(r"^(?:\s|\\[,;:! ]|~)+|(?:\s|\\[,;:! ]|~)+$")
_OPEN = "([{"
_CLOSE = ")]}"


@dataclass(frozen=True)
class Solution:
    """One solution: its ``text`` (a tuple of assignments as ``(v1, v2)`` in its letters' order)
    and, for such a tuple, its ``names`` (sorted letters)."""

    text: str
    names: tuple[str, ...] = ()


def _top_level_split(s: str, separator: re.Pattern) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            if s[i + 1] in "{}":
                depth += 1 if s[i + 1] == "{" else -1
            i += 2  # an escaped character (``\\,``, ``\\;``) never splits
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0:
            m = separator.match(s, i)
            if m:
                parts.append(s[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(s[start:])
    return parts


def _unwrap_set(s: str) -> str:
    """``\\{1, 2\\}`` -> ``1, 2``; ``{1,2,3}`` (a list in plain braces) -> ``1,2,3``."""
    if s.startswith("\\{") and s.endswith("\\}") and "\\{" not in s[2:-2]:
        return s[2:-2]
    if s.startswith("{") and s.endswith("}") and _closes_at_end(s):
        inner = s[1:-1]
        if len(_top_level_split(inner, _SEPARATOR_RE)) > 1:
            return inner
    return s


def _closes_at_end(s: str) -> bool:
    """Whether the ``{`` at 0 is closed by the last character (``{1}{2}`` is two groups)."""
    depth = 0
    for i, c in enumerate(s):
        if c == "{" and (i == 0 or s[i - 1] != "\\"):
            depth += 1
        elif c == "}" and (i == 0 or s[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def _group(parts: list[str]) -> list[Solution]:
    """Solutions from the parts of one ``;`` group: runs of assignments to different letters are tuples."""
    out: list[Solution] = []
    run: list[tuple[str, str]] = []

    def close_run():
        if len(run) == 1:
            out.append(Solution(run[0][1]))
        elif run:
            ordered = sorted(run)
            out.append(Solution("(" + ", ".join(v for _, v in ordered) + ")", tuple(n for n, _ in ordered)))
        run.clear()

    for part in parts:
        m = _ASSIGNMENT_RE.match(part)
        if m is None:
            close_run()
            out.append(Solution(part))
            continue
        letter, value = m.group("letter"), part[m.end():].strip()
        if m.group("index") or any(letter == name for name, _ in run):
            close_run()
        if m.group("index"):
            out.append(Solution(value))
        else:
            run.append((letter, value))
    close_run()
    return out


@lru_cache(maxsize=4096)
def solutions(answer: str) -> tuple[Solution, ...]:
    """The solutions an answer lists (one element when it lists one); parts that are not math
    (``salt and pepper``) mean the answer is a single free-form phrase."""
    s = clean_answer(answer)
    if parse_number(s) is not None:
        return (Solution(s),)
    s = _EQUALS_SPACING_RE.sub("=", _unwrap_set(s))
    s = _WORD_SEP_RE.sub(lambda m: f" {m.group(1) or ','} ", s)
    found: list[Solution] = []
    for group in _top_level_split(s, _GROUP_SEP_RE):
        parts = [_SPACING_EDGE_RE.sub("", clean_answer(p)) for p in _top_level_split(group, _SEPARATOR_RE)]
        found.extend(_group([p for p in parts if p]))
    if not found or not all(looks_mathy(sol.text) for sol in found):
        return (Solution(clean_answer(answer)),)
    if len(found) == 1 and not found[0].names:
        return (Solution(clean_answer(answer)),)
    return tuple(found)


def join_solutions(contents: list[str]) -> str:
    """Several answers (boxes) as one answer listing them: ``, `` between plain values, ``; ``
    when a value is itself a list (``x=1, y=2``), so each stays one solution."""
    several = any(len(_top_level_split(c, _SEPARATOR_RE)) > 1 for c in contents)
    return ("; " if several else ", ").join(contents)
