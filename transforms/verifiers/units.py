"""Quantities with units, compared with pint: dimensions must agree, values after conversion.

The unit text ``normalize.parse_number`` cut off an answer (``cm^2``, ``\\text{ m/s}``, ``km/h``,
``°C``, ``米``) is rewritten into pint's syntax and parsed by one cached ``pint.UnitRegistry``;
each (unit, unit) pair's conversion is computed once and cached as an exact affine map
(``x -> scale * x + offset``), so a verdict never builds a pint Quantity. Nothing here runs unless
both sides of a comparison carry a unit.

Only common units count (:data:`_COMMON_UNITS`, with the usual SI prefixes): pint also reads
``ab`` as attobarns and ``pct`` as picocarats, which in an answer are variables or words.
:func:`relation` says how two sides' units relate: either side bare (the bare-number rule), the
same unit, a conversion, different (``5 kg`` / ``5 m``, a quantity against money), or unknown (a
noun pint does not know against any other unit: ``12 apples`` / ``12 m``; two currencies).
Angles: a multiple of pi (``\\pi/2``, ``\\frac{3\\pi}{4}``, ``2π rad``) is an angle in radians, so
it can equal a gold in degrees (``90^\\circ``) and the reverse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

#: Unit texts that are words, not units, even where pint defines them (``a`` is a year, ``units`` a luminance).
_NOT_UNITS = frozenset({"a", "an", "unit", "units", "u", "square units", "sq units", "sq. units", "cubic units",
                        "units^2", "units**2", "units**3", "times", "points", "point"})
#: Chinese unit names pint does not know.
_CJK_UNITS = {"米": "m", "厘米": "cm", "毫米": "mm", "千米": "km", "公里": "km", "克": "g", "千克": "kg",
              "公斤": "kg", "秒": "s", "分钟": "min", "小时": "h", "升": "L", "毫升": "mL", "度": "degree",
              "平方米": "m**2", "平方厘米": "cm**2", "立方米": "m**3", "立方厘米": "cm**3"}
_WRAPPER_RE = re.compile(r"\\(?:text|mathrm|mbox|textrm|operatorname|rm)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|~|\\quad|\\qquad")
_SQUARE_RE = re.compile(r"\b(?:square|sq\.?)\s+([A-Za-z]+)")
_CUBIC_RE = re.compile(r"\b(?:cubic|cu\.?)\s+([A-Za-z]+)")
_POWER_RE = re.compile(r"\^\s*\{?\s*(-?\d+)\s*\}?")
#: Units an answer plausibly carries, as pint names them; each may take one of ``_PREFIXES``.
_COMMON_UNITS = frozenset({
    "meter", "gram", "second", "minute", "hour", "day", "week", "month", "year", "liter", "degree", "radian",
    "arcminute", "arcsecond", "degree_Celsius", "degree_Fahrenheit", "kelvin", "newton", "joule", "watt", "volt",
    "ampere", "ohm", "pascal", "hertz", "coulomb", "farad", "tesla", "calorie", "mile", "foot", "inch", "yard",
    "pound", "ounce", "metric_ton", "ton", "gallon", "quart", "pint", "cup", "acre", "hectare", "are", "mole", "bar",
    "standard_atmosphere", "millimeter_Hg", "mile_per_hour", "knot", "watt_hour", "electron_volt", "bit", "byte",
    "nautical_mile", "light_year", "astronomical_unit", "percent", "revolution", "revolutions_per_minute",
})
_PREFIXES = ("", "kilo", "centi", "milli", "micro", "nano", "mega", "giga", "tera", "deci", "hecto", "pico")
_DEGREE_RE = re.compile(r"^(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree|degrees?|deg)\s*\\?([CF])?$", re.I)


@lru_cache(maxsize=1)
def registry():
    """The one pint registry (about 2 s to build; :func:`transforms.verifiers.warm_up` builds it)."""
    import pint

    return pint.UnitRegistry(cache_folder=None)


def pint_syntax(unit: str) -> str:
    """A unit as written in an answer, in pint's syntax: ``\\text{ cm}^2`` -> ``cm**2``,
    ``m/s^{2}`` -> ``m/s**2``, ``^\\circ C`` -> ``degC``, ``km²`` -> ``km**2``."""
    s = unit.strip()
    if s in _CJK_UNITS:
        return _CJK_UNITS[s]
    degree = _DEGREE_RE.match(s)
    if degree:
        return {"C": "degC", "F": "degF"}.get((degree.group(1) or "").upper(), "degree")
    for _ in range(3):
        s = _WRAPPER_RE.sub(r" \1 ", s)
    s = _SPACING_RE.sub(" ", s)
    s = s.replace("\\cdot", "*").replace("·", "*").replace("\\times", "*").replace("\\mu", "u").replace("μ", "u")
    s = s.replace("µ", "u").replace("\\Omega", "ohm").replace("Ω", "ohm").replace("²", "^2").replace("³", "^3")
    s = _SQUARE_RE.sub(r"\1^2", s)
    s = _CUBIC_RE.sub(r"\1^3", s)
    s = _POWER_RE.sub(r"**\1", s)
    s = s.replace("{", " ").replace("}", " ").replace("\\", " ")
    return " ".join(s.split())


@lru_cache(maxsize=4096)
def parse_unit(unit: str):
    """The pint unit an answer's unit text names, or None (not a common unit pint knows, or a word)."""
    text = pint_syntax(unit)
    if not text or text.lower() in _NOT_UNITS:
        return None
    try:
        parsed = registry().parse_units(text)
    except Exception:  # pint raises several unrelated types for text that is not a unit
        return None
    return parsed if all(_common(name) for name in parsed._units) else None


def _common(name: str) -> bool:
    return any(name.startswith(prefix) and name[len(prefix):] in _COMMON_UNITS for prefix in _PREFIXES)


@lru_cache(maxsize=4096)
def is_count_word(unit: str) -> bool:
    """``units``, ``points``, ``times``: words that say "no unit" (``5 square units`` is a bare 5)."""
    words = " ".join(_WRAPPER_RE.sub(r" \1 ", unit).split()).lower()
    return words in _NOT_UNITS or pint_syntax(unit).lower() in _NOT_UNITS


@dataclass(frozen=True)
class Relation:
    """How two sides' units relate. ``kind``: ``bare`` (compare the values as written: a side
    without a unit, or the same unit), ``convert`` (``pred * scale + offset`` is in the gold's
    unit), ``differ`` (decided: other dimension, or money against a quantity), ``unknown``."""

    kind: str
    scale: Fraction = Fraction(1)
    offset: Fraction = Fraction(0)


#: Currency words that are also units of mass: against money they are money.
_MONEY_MASS = frozenset({"pound", "pounds", "lb", "lbs"})


@lru_cache(maxsize=4096)
def relation(pred_unit: str, pred_currency: str, gold_unit: str, gold_currency: str) -> Relation:
    """The relation of a prediction's unit (or currency) to the gold's; see :class:`Relation`.
    A noun pint does not know (``apples``) never makes units ignored: against another unit it is
    ``unknown``; currencies are codes (``USD``, ``CNY``; ``USD/100`` for cents)."""
    pred_unit = "" if is_count_word(pred_unit) else pred_unit
    gold_unit = "" if is_count_word(gold_unit) else gold_unit
    if not (pred_unit or pred_currency) or not (gold_unit or gold_currency):
        return Relation("bare")
    if pred_currency or gold_currency:
        if pred_currency and gold_currency:
            return _money(pred_currency, gold_currency)
        word = (gold_unit if pred_currency else pred_unit).strip().lower()
        if word in _MONEY_MASS and "GBP" in (pred_currency, gold_currency):
            return Relation("bare")
        return Relation("unknown") if parse_unit(gold_unit or pred_unit) is None else Relation("differ")
    if pred_unit.strip() == gold_unit.strip():
        return Relation("bare")
    pred_known, gold_known = parse_unit(pred_unit) is not None, parse_unit(gold_unit) is not None
    if not pred_known or not gold_known:
        return Relation("bare" if not pred_known and not gold_known and _same_noun(pred_unit, gold_unit)
                        else "unknown")
    conv = conversion(pred_unit, gold_unit)
    return Relation("differ") if conv is None else Relation("convert", *conv)


def _money(pred: str, gold: str) -> Relation:
    (p_code, _, p_div), (g_code, _, g_div) = pred.partition("/"), gold.partition("/")
    if p_code != g_code:
        return Relation("unknown")  # no exchange rates here
    return Relation("convert", Fraction(int(g_div or 1), int(p_div or 1)))


def _same_noun(a: str, b: str) -> bool:
    """The same noun up to spacing, case, ``\\text{}`` and a plural ``s`` (``apple`` / ``Apples``)."""
    a, b = pint_syntax(a).lower(), pint_syntax(b).lower()
    return a.removesuffix("s") == b.removesuffix("s")


@lru_cache(maxsize=4096)
def conversion(from_unit: str, to_unit: str) -> tuple[Fraction, Fraction] | None:
    """``(scale, offset)`` with ``value in to_unit = scale * value in from_unit + offset``, or None
    when the dimensions differ. Exact for decimal factors (``cm -> m`` is 1/100): pint's floats
    are read back by their shortest decimal form."""
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    if src is None or dst is None:
        return None
    if src == dst:
        return Fraction(1), Fraction(0)
    ureg = registry()
    try:
        if src.dimensionality != dst.dimensionality:
            return None
        at0 = Fraction(repr(float(ureg.Quantity(0.0, src).to(dst).magnitude)))
        at1 = Fraction(repr(float(ureg.Quantity(1.0, src).to(dst).magnitude)))
    except Exception:  # offset units in a compound (degC/s) and non-finite factors cannot be converted
        return None
    return at1 - at0, at0


def is_angle(unit: str) -> bool:
    """Whether ``unit`` names degrees or radians."""
    parsed = parse_unit(unit) if unit else None
    return parsed is not None and str(parsed) in ("degree", "radian", "arcminute", "arcsecond")


_PI = r"(?:\\pi|π|pi)(?![A-Za-z])"
_NUM = r"\d+(?:\.\d+)?"
_RAD = r"(?:\s*(?:\\,|\\ |~)?\s*(?:\\(?:text|mathrm)\s*\{\s*rad(?:ians?)?\s*\}|rad(?:ians?)?))?"
_PI_FORMS = [
    re.compile(r"^(?P<sign>[+-]?)\s*(?P<n>" + _NUM + r")?\s*" + _PI + r"\s*(?:/\s*(?P<d>" + _NUM + r"))?" + _RAD + "$"),
    re.compile(r"^(?P<sign>[+-]?)\s*\\[dt]?frac\s*\{\s*(?P<n>" + _NUM + r")?\s*" + _PI + r"\s*\}\s*"
               r"\{\s*(?P<d>" + _NUM + r")\s*\}" + _RAD + "$"),
    re.compile(r"^(?P<sign>[+-]?)\s*\\[dt]?frac\s*\{\s*(?P<n>" + _NUM + r")\s*\}\s*\{\s*(?P<d>" + _NUM + r")\s*\}\s*"
               + _PI + _RAD + "$"),
]


@lru_cache(maxsize=4096)
def pi_multiple(text: str) -> Fraction | None:
    """``c`` when ``text`` is ``c * pi`` (radians): ``\\pi/2`` -> 1/2, ``\\frac{3\\pi}{4}`` -> 3/4,
    ``2\\pi`` -> 2, ``\\frac{1}{6}\\pi`` -> 1/6; None for anything else."""
    s = text.strip().replace("−", "-").replace("\\left(", "(").replace("\\right)", ")")
    if "pi" not in s and "π" not in s:
        return None
    if s.startswith("(") and s.endswith(")") and "(" not in s[1:-1] and ")" not in s[1:-1]:
        s = s[1:-1].strip()
    for form in _PI_FORMS:
        m = form.match(s)
        if m:
            den = Fraction(m.group("d") or 1)
            if den == 0:
                return None
            value = Fraction(m.group("n") or 1) / den
            return -value if m.group("sign") == "-" else value
    return None
