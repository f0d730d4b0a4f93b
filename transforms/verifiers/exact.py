"""Exact comparison of simple math answers, the fast path before math-verify.

An answer in a small LaTeX subset is read into an exact value: a quotient of two polynomials
with rational coefficients in single-letter variables, ``\\pi`` and square roots of rational
numbers (``\\sqrt{8}`` is ``2\\sqrt{2}``; distinct square-free radicals are linearly independent
over the rationals, and pi is transcendental, so it can be an indeterminate). The subset: integers, decimals,
``+ - * / \\cdot \\times \\div``, implicit products, ``^`` with an integer exponent,
``\\frac``/``\\dfrac``/``\\tfrac``, ``\\sqrt`` of a rational constant, parentheses and braces
(``\\left``/``\\right`` and spacing ignored); and intervals of constants (``[1, \\frac{7}{2})``).

Two answers are *equal* when the cross products of their quotients are the same polynomial:
SymPy's ``simplify`` (what math-verify ends with) finds such a difference zero. They are
*different* when the difference, evaluated in floating point at two fixed points (variables in
[1.1, 1.9]), is clearly non-zero: above 1e-6 of the larger side. Anything else is left to
math-verify (``None``): a form outside the subset or read differently by math-verify's parser
(an equality with decimals, which it rounds; ``e``, ``i`` and capitals, which it reads as constants or folds;
a trailing word its normalization strips as a unit, ``2m`` or ``3ab`` read as ``2`` and ``3``;
``a/bc``, ``x^23``, ``\\sqrt[3]{}``, functions, relations, units, text), a difference that
evaluates tiny (its ``evalf(chop=True)`` might call that zero), degrees above 16, more than 64
terms or inputs over 256 characters, and an equality where one side is a bare variable (math-verify compares a symbol by
its name). Parsed answers are cached, so a gold compared with every sampled chain is read once.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

#: A monomial: the square-free integer under its radical (1 for none) and sorted (variable, power) pairs.
Monomial = tuple[int, tuple[tuple[str, int], ...]]
Poly = dict[Monomial, Fraction]

MAX_TERMS = 64
MAX_PRODUCT_TERMS = 1024
MAX_CHARS = 256
MAX_DEGREE = 16
MAX_EXPONENT = 12
MAX_RADICAND = 10 ** 8
MAX_INTEGER_DIGITS = 12
#: Clearly different: |a - b| above this share of max(1, |a|, |b|) at some evaluation point.
CLEAR_DIFFERENCE = 1e-6

_ONE: Monomial = (1, ())
_TOKEN_RE = re.compile(
    r"\s+|\\[,;:! ]|~|\\q?quad(?![A-Za-z])|\\left(?![A-Za-z])|\\right(?![A-Za-z])"  # skipped
    r"|(?P<decimal>\d*\.\d+)|(?P<int>\d+)|(?P<letter>[A-Za-z])|\\(?P<command>[A-Za-z]+)|(?P<symbol>\S)")
_COMMANDS = {"pi": "pi", "frac": "frac", "dfrac": "frac", "tfrac": "frac", "sqrt": "sqrt",
             "cdot": "*", "times": "*", "div": "div", "infty": "infty"}
#: Letters math-verify's parser reads as constants (e, i) or folds into others (capitals).
_NOT_VARIABLES = frozenset("ei")


class _Defer(Exception):
    """The answer is outside what this module decides."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind == "decimal" and len(value) > MAX_INTEGER_DIGITS:
            raise _Defer("decimal")
        if kind == "letter":
            if value in _NOT_VARIABLES or not value.islower():
                raise _Defer("letter")
        elif kind == "command":
            if value not in _COMMANDS:
                raise _Defer("command")
            kind, value = "symbol", _COMMANDS[value]
        elif kind == "int" and len(value) > MAX_INTEGER_DIGITS:
            raise _Defer("integer")
        elif kind == "symbol" and value not in "+-*/^(){}[],":
            raise _Defer("symbol")
        out.append((kind, value))
    return out


# ---------------------------------------------------------------- polynomial arithmetic


def _const(value: Fraction | int) -> Poly:
    return {_ONE: Fraction(value)} if value else {}


def _check(p: Poly) -> Poly:
    if len(p) > MAX_TERMS:
        raise _Defer("terms")
    return p


def _add(a: Poly, b: Poly, sign: int = 1) -> Poly:
    out = dict(a)
    for mono, coef in b.items():
        value = out.get(mono, 0) + sign * coef
        if value:
            out[mono] = value
        else:
            out.pop(mono, None)
    return _check(out)


def _mul_mono(m1: Monomial, m2: Monomial) -> tuple[int, Monomial]:
    s1, v1 = m1
    s2, v2 = m2
    g = math.gcd(s1, s2)
    powers = dict(v1)
    for var, power in v2:
        powers[var] = powers.get(var, 0) + power
    if sum(powers.values()) > MAX_DEGREE:
        raise _Defer("degree")
    return g, (s1 * s2 // (g * g), tuple(sorted(powers.items())))


def _mul(a: Poly, b: Poly) -> Poly:
    if len(a) * len(b) > MAX_PRODUCT_TERMS:
        raise _Defer("terms")
    out: Poly = {}
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            factor, mono = _mul_mono(m1, m2)
            value = out.get(mono, 0) + c1 * c2 * factor
            if value:
                out[mono] = value
            else:
                out.pop(mono, None)
    return _check(out)


def _pow(p: Poly, n: int) -> Poly:
    out = _const(1)
    for _ in range(n):
        out = _mul(out, p)
    return out


# ---------------------------------------------------------------- values: numerator / denominator


Value = tuple[Poly, Poly]


def _v(p: Poly) -> Value:
    return p, _const(1)


def _v_add(a: Value, b: Value, sign: int = 1) -> Value:
    if a[1] == b[1]:
        return _add(a[0], b[0], sign), a[1]
    return _add(_mul(a[0], b[1]), _mul(b[0], a[1]), sign), _mul(a[1], b[1])


def _v_mul(a: Value, b: Value) -> Value:
    return _mul(a[0], b[0]), _mul(a[1], b[1])


def _v_div(a: Value, b: Value) -> Value:
    if not b[0]:
        raise _Defer("division by zero")
    return _mul(a[0], b[1]), _mul(a[1], b[0])


def _rational(v: Value) -> Fraction | None:
    """The value as a rational number when it is one (no variables, pi or radicals)."""
    num, den = v
    if any(m != _ONE for m in num) or set(den) != {_ONE}:
        return None
    return num.get(_ONE, Fraction(0)) / den[_ONE]


def _v_pow(base: Value, exponent: Value) -> Value:
    n = _rational(exponent)
    if n is None or n.denominator != 1 or abs(n) > MAX_EXPONENT:
        raise _Defer("exponent")
    n = int(n)
    if n >= 0:
        return _pow(base[0], n), _pow(base[1], n)
    if not base[0]:
        raise _Defer("division by zero")
    return _pow(base[1], -n), _pow(base[0], -n)


@lru_cache(maxsize=4096)
def _square_free(n: int) -> tuple[int, int]:
    """``n = q**2 * s`` with ``s`` square-free: ``(q, s)``."""
    q, s, f = 1, 1, 2
    while f * f <= n:
        while n % (f * f) == 0:
            n //= f * f
            q *= f
        if n % f == 0:
            n //= f
            s *= f
        f += 1
    return q, s * n


def _v_sqrt(v: Value) -> Value:
    r = _rational(v)
    if r is None or r < 0 or r.numerator * r.denominator > MAX_RADICAND:
        raise _Defer("radicand")
    q, s = _square_free(r.numerator * r.denominator)  # sqrt(a/b) = sqrt(a*b) / b
    return {(s, ()): Fraction(q, r.denominator)} if q else {}, _const(1)


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _Defer("syntax")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "symbol" and tok[1] == value

    def expression(self) -> Value:
        value = self.signed_term()
        while self.at("+") or self.at("-"):
            sign = 1 if self.take()[1] == "+" else -1
            value = _v_add(value, self.signed_term(), sign)
        return value

    def signed_term(self) -> Value:
        sign = 1
        while self.at("+") or self.at("-"):  # ``+-3``, ``--3``: math-verify reads these as signs too
            sign *= 1 if self.take()[1] == "+" else -1
        term = self.term()
        return term if sign == 1 else (_add({}, term[0], -1), term[1])

    def starts_factor(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        kind, value = tok
        return kind in ("int", "decimal", "letter") or value in ("pi", "frac", "sqrt", "(", "{")

    def term(self) -> Value:
        value = self.power()
        while True:
            tok = self.peek()
            if tok is None:
                return value
            if tok[1] == "*":
                self.take()
                value = _v_mul(value, self.power())
            elif tok[1] in ("/", "div"):
                self.take()
                value = _v_div(value, self.power())
                if tok[1] == "/" and self.starts_factor():
                    raise _Defer("a/bc")  # math-verify reads a/bc as a/(bc)
            elif self.starts_factor():
                if tok[0] in ("int", "decimal"):
                    raise _Defer("juxtaposed number")  # ``x^2 3``, ``2 3``
                if tok[1] == "(" and self.tokens[self.i - 1][0] == "letter":
                    raise _Defer("call")  # ``f(x)``: math-verify reads a function
                value = _v_mul(value, self.power())
            else:
                return value

    def power(self) -> Value:
        base = self.atom()
        if self.at("^"):
            self.take()
            base = _v_pow(base, self.exponent())
            if self.at("^"):
                raise _Defer("tower")
        return base

    def exponent(self) -> Value:
        if self.at("{"):
            return self.group("{", "}")
        kind, value = self.take()
        if kind == "int" and len(value) == 1:
            return _v(_const(int(value)))
        raise _Defer("exponent")  # ``x^23`` (math-verify: x**23), ``x^-1``, ``x^y``

    def argument(self) -> Value:
        """A ``\\frac`` or ``\\sqrt`` argument: a braced group, one digit or one letter."""
        if self.at("{"):
            return self.group("{", "}")
        kind, value = self.peek() or ("", "")
        if kind == "letter":
            self.take()
            return _v({(1, ((value, 1),)): Fraction(1)})
        if kind == "int":
            self.take()
            if len(value) > 1:  # ``\frac12``: one digit per argument; leave the rest as a token
                self.i -= 1
                self.tokens[self.i] = ("int", value[1:])
            return _v(_const(int(value[0])))
        raise _Defer("argument")

    def group(self, left: str, right: str) -> Value:
        self.take(left)
        value = self.expression()
        self.take(right)
        return value

    def atom(self) -> Value:
        kind, value = self.take()
        if kind == "int":
            return _v(_const(int(value)))
        if kind == "decimal":
            return _v(_const(Fraction(value)))
        if kind == "letter":
            return _v({(1, ((value, 1),)): Fraction(1)})
        if value == "pi":
            return _v({(1, (("pi", 1),)): Fraction(1)})
        if value == "frac":
            num = self.argument()
            return _v_div(num, self.argument())
        if value == "sqrt":
            if self.at("["):
                raise _Defer("root index")
            return _v_sqrt(self.argument())
        if value in ("(", "{"):
            self.i -= 1
            return self.group(value, ")" if value == "(" else "}")
        raise _Defer("syntax")


@lru_cache(maxsize=8192)
def _parse(text: str) -> tuple | None:
    """``("value", Value, bare_variable)`` or ``("interval", left_open, start, end, right_open)``
    (an endpoint None is infinite), or None outside the subset."""
    # Imported here, on the workers: it pulls in SymPy, which the launcher need not load (issue 29).
    from latex2sympy2_extended.math_normalization import units_regex

    if len(text) > MAX_CHARS or units_regex.search(text):
        return None  # math-verify strips a trailing unit word (``2m``, ``3ab``, ``5 cm`` all read as numbers)
    try:
        tokens = _tokens(text)
        if not tokens:
            return None
        interval = _interval(tokens)
        if interval is not None:
            return interval
        parser = _Parser(tokens)
        value = parser.expression()
        if parser.peek() is not None:
            return None
        if not value[1]:
            return None
        return ("value", value, _bare_variable(value))
    except (_Defer, RecursionError):
        return None


def _interval(tokens: list[tuple[str, str]]) -> tuple | None:
    first, last = tokens[0][1], tokens[-1][1]
    if first not in "([" or last not in ")]" or tokens[0][0] != "symbol" or tokens[-1][0] != "symbol":
        return None
    depth, comma = 0, None
    for i, (kind, value) in enumerate(tokens[1:-1], 1):
        if kind != "symbol":
            continue
        if value in "([{":
            depth += 1
        elif value in ")]}":
            depth -= 1
            if depth < 0:
                return None  # ``(x+1)(x-1)``: the first bracket closes early
        elif value == "," and depth == 0:
            if comma is not None:
                raise _Defer("tuple")
            comma = i
    if comma is None:
        if first == "[" or last == "]":
            raise _Defer("brackets")
        return None
    start = _endpoint(tokens[1:comma], -1)
    end = _endpoint(tokens[comma + 1:-1], 1)
    # math-verify (SymPy's Interval) opens an infinite end whatever its bracket
    return ("interval", first == "(" or start is None, start, end, last == ")" or end is None)


def _endpoint(tokens: list[tuple[str, str]], infinite_sign: int) -> Value | None:
    """An interval end: a constant, or None for ``\\infty`` on its own side."""
    values = [v for _, v in tokens]
    if (values in (["infty"], ["+", "infty"]) and infinite_sign == 1) or (values == ["-", "infty"] and infinite_sign == -1):
        return None
    parser = _Parser(list(tokens))
    value = parser.expression()
    if parser.peek() is not None or not value[1] or _has_variables(value):
        raise _Defer("endpoint")
    return value


def _bare_variable(v: Value) -> bool:
    """A single variable (``x``, ``(x)``, ``x+1-1``): math-verify would compare a Symbol by name."""
    num, den = v
    if len(num) != 1 or len(den) != 1 or _ONE not in den:
        return False
    ((radical, mono), coef), = num.items()
    return radical == 1 and len(mono) == 1 and mono[0][1] == 1 and mono[0][0] != "pi" and coef == den[_ONE]


def _has_variables(v: Value) -> bool:
    return any(var != "pi" for p in v for _, mono in p for var, _ in mono)


# ---------------------------------------------------------------- comparison


def _evaluate(p: Poly, point: int) -> float:
    total = 0.0
    for (radical, mono), coef in p.items():
        term = float(coef) * math.sqrt(radical)
        for var, power in mono:
            term *= _point_value(var, point) ** power
        total += term
    return total


@lru_cache(maxsize=256)
def _point_value(var: str, point: int) -> float:
    if var == "pi":
        return math.pi
    return 1.1 + ((ord(var) * 7919 + point * 104729) % 797) / 1000  # in [1.1, 1.9]


def _compare_values(a: Value, b: Value) -> bool | None:
    if not _add(_mul(a[0], b[1]), _mul(b[0], a[1]), -1):
        return True
    for point in (0, 1):
        den_a, den_b = _evaluate(a[1], point), _evaluate(b[1], point)
        if abs(den_a) < 1e-9 or abs(den_b) < 1e-9:
            continue
        x, y = _evaluate(a[0], point) / den_a, _evaluate(b[0], point) / den_b
        if abs(x - y) > CLEAR_DIFFERENCE * max(1.0, abs(x), abs(y)):
            return False
    return None


def _compare_ends(a: Value | None, b: Value | None) -> bool | None:
    if a is None or b is None:
        return a is None and b is None
    return _compare_values(a, b)


def _increasing(start: Value | None, end: Value | None) -> bool:
    """Whether a finite interval's start is clearly below its end (else SymPy may empty it or read a tuple)."""
    if start is None or end is None:
        return True
    low, high = _evaluate(start[0], 0) / _evaluate(start[1], 0), _evaluate(end[0], 0) / _evaluate(end[1], 0)
    return high - low > CLEAR_DIFFERENCE * max(1.0, abs(low), abs(high))


def exact_equal(pred: str, gold: str) -> bool | None:
    """Whether ``pred`` equals ``gold`` (cleaned answers) when this module can tell for sure,
    else None (ask math-verify)."""
    try:
        return _exact_equal(pred, gold)
    except (OverflowError, ZeroDivisionError):  # a coefficient beyond a float, an end evaluating to 0
        return None


def _exact_equal(pred: str, gold: str) -> bool | None:
    g, p = _parse(gold), _parse(pred)
    if g is None or p is None or g[0] != p[0]:
        return None
    if g[0] == "value":
        verdict = _compare_values(p[1], g[1])
        if verdict and (g[2] or p[2]):
            return None  # a bare variable: math-verify compares it by name
        if verdict and ("." in pred or "." in gold):
            return None  # equal as exact decimals; math-verify's float rounding has the last word
        return verdict
    _, g_left, g_start, g_end, g_right = g
    _, p_left, p_start, p_end, p_right = p
    if not (_increasing(g_start, g_end) and _increasing(p_start, p_end)):
        return None
    ends = [_compare_ends(p_start, g_start), _compare_ends(p_end, g_end)]
    if False in ends:
        return False
    if None in ends:
        return None
    if "." in pred or "." in gold:
        return None if g_left == p_left and g_right == p_right else False
    return g_left == p_left and g_right == p_right
