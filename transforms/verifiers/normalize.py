"""Canonical forms of answer strings: cleaned text, plain numbers, yes/no, option letters.

Every function here is linear in its input (no nested regex quantifiers over unbounded text);
callers pass short extracted answers, but nothing breaks on long ones.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

# ---------------------------------------------------------------- cleaning

_WRAPPER_COMMANDS = ("text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "mbox", "emph", "operatorname")
_WRAPPERS = "|".join(_WRAPPER_COMMANDS)
_WRAPPER_RE = re.compile(rf"^\\(?:{_WRAPPERS})\s*\{{(.*)\}}$", re.S)
_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_MARKDOWN_RE = re.compile(r"^(\*\*|__|\*|_|`)(.+)\1$", re.S)
_DECORATION_START = frozenset("$\\*_`")
_DECORATION_END = frozenset("$)]}*_`")
_TRAILING_PUNCT = " \t\r\n.,;:?。，；：！？、"  # not "!": 5! is a factorial


def clean_answer(text: str) -> str:
    """Strip what surrounds an answer: whitespace, math delimiters, markdown emphasis,
    ``\\text{}``-style wrappers spanning the whole answer, ``\\displaystyle``, trailing
    sentence punctuation. Inner content is left alone."""
    s = text.strip().rstrip(_TRAILING_PUNCT)
    for _ in range(8):  # wrappers nest a few levels at most (``**$\\text{B}$**``)
        if not s or (s[0] not in _DECORATION_START and s[-1] not in _DECORATION_END):
            return s
        before = s
        for left, right in _MATH_DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                inner = s[len(left):len(s) - len(right)]
                if right not in inner:  # not "$5$ and $6$"
                    s = inner.strip()
                break
        m = _MARKDOWN_RE.match(s)
        if m:
            s = m.group(2).strip()
        m = _WRAPPER_RE.match(s)
        if m and _balanced(m.group(1)):
            s = m.group(1).strip()
        if s.startswith("\\displaystyle"):
            s = s[len("\\displaystyle"):].strip()
        s = s.rstrip(_TRAILING_PUNCT)
        if s == before:
            break
    return s


def _balanced(s: str) -> bool:
    depth = 0
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0


_LATEX_SPACING_RE = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])|\\[,;:! ]|\\quad|\\qquad|~")
_DIGIT_GAP_RE = re.compile(r"(?<=\d)(?:\s|\\[,;:! ]|~)+(?=\d)(?=(\d{3}(?![\d.]))?)")
_FRAC_VARIANTS_RE = re.compile(r"\\[dt]frac(?![A-Za-z])")


def normalize_expression(text: str) -> str:
    """A spacing-insensitive form of a math answer for a cheap exact comparison:
    delimiters, ``\\left``/``\\right``, LaTeX spacing and all whitespace removed,
    ``\\dfrac``/``\\tfrac`` spelled ``\\frac``. A gap between two digits stays (as ``␣``) unless
    it separates thousands: ``3 4`` is not ``34``, ``12 345`` is ``12345``."""
    s = clean_answer(text)
    s = _DIGIT_GAP_RE.sub(lambda m: "" if m.group(1) else "␣", s)
    s = _LATEX_SPACING_RE.sub("", s)
    s = _FRAC_VARIANTS_RE.sub(r"\\frac", s)
    return "".join(s.split())


_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_PUNCT_TABLE = str.maketrans({c: " " for c in string.punctuation + "。，；：！？、（）【】《》「」『』“”‘’…·"})
_LATEX_WRAPPER_ANYWHERE_RE = re.compile(rf"\\(?:{_WRAPPERS})\s*\{{([^{{}}]*)\}}")


def normalize_text(text: str) -> str:
    """Free-form comparison key: NFKC, case-folded, LaTeX text wrappers and punctuation removed,
    articles dropped, whitespace collapsed."""
    s = unicodedata.normalize("NFKC", clean_answer(text))
    s = _LATEX_WRAPPER_ANYWHERE_RE.sub(r"\1", s)
    s = s.replace("\\", " ").casefold().translate(_PUNCT_TABLE)
    s = _ARTICLES_RE.sub(" ", s)
    return " ".join(s.split())


# ---------------------------------------------------------------- yes / no

_YES = frozenset({"yes", "true", "correct", "y", "是", "对", "對", "正确", "正確", "是的"})
_NO = frozenset({"no", "false", "incorrect", "n", "否", "不", "不是", "错", "錯", "错误", "錯誤", "不对"})


def yes_no(text: str) -> str | None:
    """``"yes"`` / ``"no"`` when the answer is (or starts with) a yes/no word, else None."""
    key = normalize_text(text)
    if not key:
        return None
    if key in _YES:
        return "yes"
    if key in _NO:
        return "no"
    first = key.split(" ", 1)[0]
    if first in _YES and first not in ("y",):
        return "yes"
    if first in _NO and first not in ("n",):
        return "no"
    return None


# ---------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Number:
    """A plain number as written: exact ``value``, ``decimals`` after the point (None for a
    fraction, which counts as exact), whether it was an integer literal and carried ``%`` (or a
    percent word), the ``unit`` text written after it (``cm^2``, ``\\text{ m/s}``, ``degree``; empty
    for none) and whether that unit is ``attached`` to the digits (``5cm``), and its ``currency``
    code (``USD``, ``CNY``, ``USD/100`` for cents; ``%`` and currency are not units here)."""

    value: Fraction
    decimals: int | None
    is_integer_literal: bool
    percent: bool
    unit: str = ""
    currency: str = ""
    attached: bool = False


_MAX_NUMBER_CHARS = 120
_MAX_POW10 = 1000

_CURRENCY_PREFIX_RE = re.compile(r"^(?:\\\$|\$|US\$|USD|EUR|GBP|RMB|CNY|Rs\.?|€|£|¥|￥|\\euro|\\pounds|\\yen)\s*")
_CURRENCY_SUFFIX_RE = re.compile(
    r"\s*(?:\\\$|\$|€|£|¥|￥|元|美元|块|(?<![A-Za-z])(?:dollars?|euros?|yuan|cents?|USD|EUR|GBP|RMB|CNY))$", re.I)
#: Currency marks as codes; a cent is a hundredth of a dollar. ``pounds`` is left to pint (mass).
_CURRENCY_CODES = {"\\$": "USD", "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
                   "美元": "USD", "cent": "USD/100", "cents": "USD/100", "€": "EUR", "eur": "EUR", "\\euro": "EUR",
                   "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "\\pounds": "GBP", "¥": "CNY", "￥": "CNY",
                   "\\yen": "CNY", "元": "CNY", "块": "CNY", "yuan": "CNY", "rmb": "CNY", "cny": "CNY", "rs": "INR",
                   "rs.": "INR"}
_PERCENT_SUFFIX_RE = re.compile(
    r"\s*(?:\\%|%|％|\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?:percent(?:age)?|pct|per\s*cent|\\?%)\s*\}"
    r"|(?<![A-Za-z])(?:percent(?:age)?|pct|per\s+cent))$", re.I)
_DEGREE_SUFFIX_RE = re.compile(
    r"\s*(?:\^\s*\{\s*\\circ\s*\}(?:\s*\\?[CF])?|\^\s*\\circ(?:\s*\\?[CF])?|°[CF]?|\\degree|\s+degrees?|\s*度)$",
    re.I)
_TEXT_UNIT_SUFFIX_RE = re.compile(
    r"\s*(?:\\[,;: ]|~)?\s*\\(?:text|mathrm|mbox|textrm|operatorname)\s*\{[^{}]*\}(?:\s*\^\s*\{?-?\d\}?)?$")
_UNIT_WORD = r"[A-Za-zµμΩ]+(?:\^\{?-?\d\}?|[²³])?"
_WORD_UNIT_SUFFIX_RE = re.compile(
    r"(?:(?<=[\d}])|\s+)"  # a unit follows a digit or a fraction directly (5cm) or after a space
    + _UNIT_WORD + r"(?:\s*(?:/|\bper\b|\\cdot|·)\s*" + _UNIT_WORD + r")?"
    + r"(?:\s+" + _UNIT_WORD + r"){0,3}$"
)
# Single letters are variables unless they are a common unit symbol; these words are math, not units.
_UNIT_LETTERS = frozenset("mgsLKNJWVh")
_NOT_UNITS = frozenset({"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "frac",
                        "cdot", "times", "infty", "circ", "mod", "and", "or", "i", "e"})
_LETTERS_RE = re.compile(r"[A-Za-zµμΩ]+")
#: ``\\mathrm{e}``, ``\\text{i}``: Euler's number and the imaginary unit, not units.
_CONSTANT_TEXT_RE = re.compile(r"\{\s*[ei]\s*\}")
_CJK_UNIT_SUFFIX_RE = re.compile(r"\s*[\u4e00-\u9fff]{1,4}$")

_SEP = r"(?:,|\{,\}|\\,|\\ |\u2009|\u202f|\u00a0| )"
_DECIMAL_BODY = r"(?:\d{1,3}(?:" + _SEP + r"\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)"
_DECIMAL_RE = re.compile(
    r"^(?P<sign>[+-]?)\s*(?P<body>" + _DECIMAL_BODY + r")"
    r"(?:\s*(?:[eE](?P<exp>[+-]?\d{1,4})|(?:\\times|\\cdot|×|\*)\s*10\s*\^\s*\{?\s*(?P<exp10>[+-]?\d{1,4})\s*\}?))?$"
)
_FRAC_RE = re.compile(
    r"^(?P<sign>[+-]?)\s*\\[dt]?frac\s*(?:\{\s*(?P<n>[+-]?\d+(?:\.\d+)?)\s*\}|(?P<n1>\d))"
    r"\s*(?:\{\s*(?P<d>[+-]?\d+(?:\.\d+)?)\s*\}|(?P<d1>\d))$"
)
#: A mixed number, ``3\\frac{1}{2}`` = 3.5 (a proper fraction after a whole number; math-verify's reading too).
_MIXED_RE = re.compile(r"^(?P<sign>[+-]?)\s*(?P<whole>\d+)\s*\\[dt]?frac\s*\{\s*(?P<n>\d+)\s*\}\s*\{\s*(?P<d>\d+)\s*\}$")
_SLASH_RE = re.compile(r"^(?P<sign>[+-]?)\s*(?P<n>\d+(?:\.\d+)?)\s*/\s*(?P<d>\d+(?:\.\d+)?)$")
_SEP_RE = re.compile(_SEP)
_SPACE = r"(?:\s|\\[,;:! ]|~)*"
_ASSIGNMENT_PREFIX_RE = re.compile(r"^[A-Za-z](?:_\{?\w{1,3}\}?)?" + _SPACE + r"(?:=|\\approx|≈)" + _SPACE)


def _strip_word_unit(s: str) -> tuple[str, str]:
    m = _WORD_UNIT_SUFFIX_RE.search(s)
    if not m:
        return s, ""
    words = _LETTERS_RE.findall(m.group(0))
    for word in words:
        if word.lower() in _NOT_UNITS or (len(word) == 1 and word not in _UNIT_LETTERS):
            return s, ""
    return s[:m.start()], m.group(0)


def _currency_code(mark: str) -> str:
    return _CURRENCY_CODES.get(mark.strip().lower(), _CURRENCY_CODES.get(mark.strip(), "?"))


def _cut(pattern: re.Pattern, s: str) -> tuple[str, str]:
    m = pattern.search(s)
    return (s[:m.start()], m.group(0)) if m else (s, "")


@dataclass(frozen=True)
class Decorations:
    """What :func:`strip_units` cut off an answer: ``%`` (or a percent word), the unit text
    (outermost last: ``5 \\text{cm}^2`` gives ``\\text{cm}^2``), whether a word unit was attached to
    the value (``5cm``) and the currency code."""

    percent: bool = False
    unit: str = ""
    attached: bool = False
    currency: str = ""


def strip_units(s: str, words: bool = True) -> tuple[str, Decorations]:
    """Remove currency, percent, degree and unit decorations from the end (and currency from the
    start) of an answer. ``words``: also cut a bare trailing unit word (``5 cm``); off for an
    expression, where a trailing letter is a variable (``x + 2m``) and only a ``\\text{}`` unit,
    degrees, ``%`` and currency are decorations."""
    percent, attached = False, False
    currency = ""
    units: list[str] = []
    for _ in range(4):
        before = s
        if _PERCENT_SUFFIX_RE.search(s):  # before currency: "per cent" is no cent
            s = _PERCENT_SUFFIX_RE.sub("", s)
            percent = True
        s, mark = _cut_start(_CURRENCY_PREFIX_RE, s)
        currency = currency or (_currency_code(mark) if mark else "")
        s, mark = _cut(_CURRENCY_SUFFIX_RE, s)
        currency = currency or (_currency_code(mark) if mark else "")
        for pattern in (_DEGREE_SUFFIX_RE, _TEXT_UNIT_SUFFIX_RE, _CJK_UNIT_SUFFIX_RE):
            rest, unit = _cut(pattern, s)
            if unit and rest.strip() and not _CONSTANT_TEXT_RE.search(unit):
                s = rest
                units.append(unit)
        if words and s and (s[-1].isalpha() or "^" in s[-4:] or s[-1] in "²³"):
            s, unit = _strip_word_unit(s)
            if unit:
                units.append(unit)
                attached = attached or not unit[0].isspace()
        s = s.strip()
        if s == before:
            break
    return s, Decorations(percent, " ".join(u.strip() for u in reversed(units)), attached, currency)


def _cut_start(pattern: re.Pattern, s: str) -> tuple[str, str]:
    m = pattern.match(s)
    return (s[m.end():], m.group(0)) if m else (s, "")


@lru_cache(maxsize=4096)
def parse_number(text: str) -> Number | None:
    """Read a plain number: integer, decimal (with ``1,234,567`` / ``1\\,234`` / ``1{,}234``
    thousands separators), scientific (``1.5e3``, ``1.5 \\times 10^{3}``), or a fraction of
    plain numbers (``3/4``, ``\\frac{3}{4}``, ``\\dfrac34``), optionally with a sign, currency,
    ``%``, degrees and a trailing unit (``5 cm``, ``5\\text{ m/s}``, ``5 米``).

    Returns None for anything else (expressions, intervals, tuples such as ``1,2``), which then
    goes to the symbolic comparison.
    """
    s = clean_answer(text)
    if not s or len(s) > _MAX_NUMBER_CHARS or not any(c.isdigit() for c in s):
        return None
    s = _ASSIGNMENT_PREFIX_RE.sub("", s, count=1)
    s, marks = strip_units(s)
    s = s.replace("−", "-").replace("\\!", "").replace("\\left(", "(").replace("\\right)", ")").strip()
    if s[:1] + s[-1:] in ("{}", "()") and _balanced(s[1:-1].replace("(", "{").replace(")", "}")):
        s = s[1:-1].strip()

    m = _DECIMAL_RE.match(s)
    if m:
        body = _SEP_RE.sub("", m.group("body"))
        if body.endswith("."):
            body = body[:-1]
        exp = m.group("exp") or m.group("exp10")
        if exp is not None and abs(int(exp)) > _MAX_POW10:
            return None
        decimals = len(body.split(".", 1)[1]) if "." in body else 0
        value = Fraction(int(body.replace(".", "") or "0"), 10 ** decimals)
        if exp is not None:
            value *= Fraction(10) ** int(exp)
        if m.group("sign") == "-":
            value = -value
        return Number(value, decimals, "." not in body and exp is None, *_marks(marks))

    m = _FRAC_RE.match(s) or _SLASH_RE.match(s) or _MIXED_RE.match(s)
    if m:
        groups = m.groupdict()
        num = Fraction(groups.get("n") or groups.get("n1"))
        den = Fraction(groups.get("d") or groups.get("d1"))
        if den == 0 or (groups.get("whole") is not None and not 0 < num < den):
            return None
        value = num / den + int(groups.get("whole") or 0)
        if m.group("sign") == "-":
            value = -value
        return Number(value, None, False, *_marks(marks))
    return None


def _marks(marks: Decorations) -> tuple:
    return marks.percent, marks.unit, marks.currency, marks.attached


_NUMBER_WORDS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
     "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100, "thousand": 1000})


_SIGNED_RE = re.compile(r"[-+−±]")


def number_word(text: str) -> Number | None:
    """An English number word as a number (``three`` -> 3, ``Twenty.`` -> 20), else None."""
    value = _NUMBER_WORDS.get(normalize_text(text)) if len(text) <= 24 and not _SIGNED_RE.search(text) else None
    return None if value is None else Number(Fraction(value), 0, True, False)


def numbers_equal(pred: Number, gold: Number, *, rel_tol: float, abs_tol: float,
                  integer_exact: bool = True, round_to_gold_decimals: bool = True,
                  percent_equivalence: bool = True) -> bool:
    """Compare two plain numbers under the tolerance rule documented on ``VerifyConfig``."""
    pairs = [(pred.value, gold.value, gold)]
    if percent_equivalence and pred.percent != gold.percent:
        if gold.percent:
            pairs.append((pred.value, gold.value / 100, None))
        else:
            pairs.append((pred.value / 100, gold.value, gold))
    for p, g, gold_form in pairs:
        if p == g:
            return True
        diff = abs(p - g)
        if gold_form is not None and round_to_gold_decimals and gold_form.decimals:
            more_precise = pred.decimals is None or pred.decimals > gold_form.decimals
            if more_precise and diff * 2 * 10 ** gold_form.decimals <= 1:
                return True
        if integer_exact and gold_form is not None and gold_form.is_integer_literal:
            continue
        if diff <= max(Fraction(abs_tol), Fraction(rel_tol) * abs(g)):
            return True
    return False


def number_rule(config) -> dict:
    """The keyword arguments of :func:`numbers_equal` a ``VerifyConfig`` sets."""
    return dict(rel_tol=config.rel_tol, abs_tol=config.abs_tol, integer_exact=config.integer_exact,
                round_to_gold_decimals=config.round_to_gold_decimals,
                percent_equivalence=config.percent_equivalence)


# ---------------------------------------------------------------- option letters

_DEFAULT_LETTERS = "ABCDEFGHIJ"
_LETTER_WRAPPERS = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|textrm|mbox)\s*\{(.*)\}$", re.S)
_LETTER_ONLY_RE = re.compile(r"^(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])(?:[.:：)]|\s*$))\s*$")
_LETTER_WITH_TEXT_RE = re.compile(r"^(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])[.:：)])\s*\S")
_LETTER_THEN_REASON_RE = re.compile(
    r"^(?:\(([A-Z])\)|([A-Z]))(?=\s*(?:[,;—]|-\s|\s(?:is|because|since|as|as it|which)\b))")
_OPTION_WORD_RE = re.compile(r"^(?:option|choice|选项|選項)\s*[:：]?\s*\(?([A-Za-z])\)?(?![A-Za-z])", re.I)
_CHOICE_PREFIX_RE = re.compile(r"^\s*(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])[.:：)])\s*")


_AMC_RE = re.compile(
    r"^(?:\\q?quad\s*|\\[ ,;:]\s*)*\\(?:textbf|text|mathrm|mathbf|textrm|mbox)\s*\{\s*\(\s*([A-Z])\s*\)\s*\}"
    r"(?:\s|\\[ ,;:]|~|\\q?quad)*")


def split_amc(text: str) -> tuple[str, str] | None:
    """An AMC-style answer ``\\textbf{(B)}\\ 45`` as ``("B", "45")`` (the value may be empty)."""
    m = _AMC_RE.match(text)
    return (m.group(1), text[m.end():].strip()) if m else None


def option_letters(choices: list[str] | None) -> str:
    """The letters valid for these choices (A–J when the choices are unknown)."""
    if choices:
        return "".join(chr(ord("A") + i) for i in range(min(len(choices), 26)))
    return _DEFAULT_LETTERS


def letter_of(text: str, letters: str) -> str | None:
    """The option letter an answer names: ``B``, ``(B)``, ``B)``, ``B.``, ``**B**``, ``\\text{(B)}``,
    ``$B$``, ``B) 42``, ``option B``; None if it names none (or a letter outside ``letters``)."""
    s = clean_answer(text)
    amc = split_amc(s)
    if amc:
        return amc[0] if amc[0] in letters else None
    for _ in range(4):
        m = _LETTER_WRAPPERS.match(s)
        if not m:
            break
        s = clean_answer(m.group(1))
    m = _LETTER_ONLY_RE.match(s) or _LETTER_WITH_TEXT_RE.match(s) or _LETTER_THEN_REASON_RE.match(s)
    if m:
        letter = next(g for g in m.groups() if g)
    else:
        m = _OPTION_WORD_RE.match(s)
        if not m:
            return None
        letter = m.group(1).upper()
    return letter if letter in letters else None


def strip_choice_prefix(choice: str) -> str:
    """``"B. 42"`` / ``"(B) 42"`` -> ``"42"``: choices sometimes carry their own letter."""
    return _CHOICE_PREFIX_RE.sub("", choice, count=1)


def choice_letter_for_text(text: str, choices: list[str] | None, **number_rule) -> str | None:
    """The letter of the choice whose text this answer equals (normalized text, or the same plain
    number when exactly one choice has that value); None when there is no such single choice."""
    if not choices:
        return None
    key = normalize_text(text)
    if key:
        hits = [i for i, c in enumerate(choices) if normalize_text(strip_choice_prefix(c)) == key]
        if len(hits) == 1:
            return chr(ord("A") + hits[0])
        if len(hits) > 1:
            return None
    key = normalize_expression(text)
    if key:
        hits = [i for i, c in enumerate(choices) if normalize_expression(strip_choice_prefix(c)) == key]
        if len(hits) == 1:
            return chr(ord("A") + hits[0])
    number = parse_number(text)
    if number is None:
        return None
    hits = []
    for i, c in enumerate(choices):
        other = parse_number(strip_choice_prefix(c))
        if other is not None and numbers_equal(number, other, **number_rule):
            hits.append(i)
    return chr(ord("A") + hits[0]) if len(hits) == 1 else None
