"""The numbers a text carries, normalized, for the quantities and options guards.

Templated problems differ only in their numbers ("13 cm by 32 cm" against "12 cm by 46 cm")
and often share the answer, so near-duplicates must carry the same numbers. Each
number becomes an exact :class:`~fractions.Fraction` string: ``1,000`` = ``1{,}000`` =
``1\\,000`` = ``1000``; ``0.50`` = ``.5`` = ``1/2`` = ``\\frac{1}{2}`` = ``\\dfrac12`` = ``50%`` =
``50\\%`` = ``50 percent``; ``-3`` = ``−3``. A minus is a sign unless it follows an operand:
a word character or closing bracket right before it or before a spaced ``-`` (``5-3``,
``5 - 3``, ``x - 3`` carry 3), a digit or closing bracket before a ``-`` attached to its number
(``5 -3`` carries 3, ``is -5`` and ``x = -3`` carry negatives), however the rest is spaced.
Written by hand: no library reads numbers out of mixed prose and LaTeX this way (math-verify
parses whole answers, not the numbers in a sentence). Spelled-out numbers ("two") are not read.
"""
from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

from transforms.dedup.text import normalize_text

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:(?:,|\{,\}|\\,|\\ |~)\d{3})+(?![\d])")
_SEPARATOR = re.compile(r",|\{,\}|\\,|\\ |~")
_QUANTITY = re.compile(
    rf"\\[dt]?frac\s*(?:\{{\s*(?P<tn>-?\s*{_NUM})\s*\}}|(?P<tn1>\d))\s*(?:\{{\s*(?P<td>{_NUM})\s*\}}|(?P<td1>\d))"
    rf"|(?P<fn>{_NUM})\s*/\s*(?P<fd>{_NUM})(?![\d.])"
    rf"|(?P<n>{_NUM})(?P<pct>\s*(?:\\?%|per\s?cent\b))?",
    re.IGNORECASE,
)
_OPERAND_END = re.compile(r"[\w)\]}|!]")
_NUMBER_END = re.compile(r"[\d)\]}|!]")


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return _THOUSANDS.sub(lambda m: _SEPARATOR.sub("", m.group()), text)


def _negative(text: str, start: int) -> bool:
    i = start - 1
    spaced_after = i >= 0 and text[i].isspace()
    while i >= 0 and text[i].isspace():
        i -= 1
    if i < 0 or text[i] != "-":
        return False
    spaced_before = i > 0 and text[i - 1].isspace()
    i -= 1
    while i >= 0 and text[i].isspace():
        i -= 1
    if i < 0:
        return True
    operand = _NUMBER_END if spaced_before and not spaced_after else _OPERAND_END
    return not operand.match(text[i])


def _value(match: re.Match) -> Fraction:
    g = match.groupdict()
    if g["n"] is not None:
        return Fraction(g["n"]) / (100 if g["pct"] else 1)
    if g["fn"] is not None:
        num, den = g["fn"], g["fd"]
    else:
        num, den = (g["tn"] or g["tn1"]).replace(" ", ""), g["td"] or g["td1"]
    den_value = Fraction(den)
    return Fraction(num) / den_value if den_value else Fraction(num)


def numbers(text: str) -> list[str]:
    """The normalized numbers of ``text``, in order (exact fractions as strings: ``'1/2'``, ``'-3'``)."""
    text = _prepare(text)
    found = []
    for match in _QUANTITY.finditer(text):
        value = _value(match)
        found.append(str(-value if _negative(text, match.start()) else value))
    return found


def canonical(text: str) -> str:
    """``text`` with its numbers normalized and its words as :func:`normalize_text` leaves them.

    Equal for ``"0.50 m"`` and ``"0.5 M"``, different for ``"-3"`` and ``"3"`` (which
    :func:`normalize_text` alone would confuse); used for answers and option texts.
    """
    words = normalize_text(_QUANTITY.sub(" ", _prepare(text)))
    return " # ".join(part for part in (words, " ".join(numbers(text))) if part)
