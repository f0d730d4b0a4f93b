"""Metamorphic relations for the verifier: perturbations of a right answer that change its value
(so the perturbed answer must never verify as correct) and rewrites that keep it (so it must stay
correct).

Every function takes an answer as the verifier extracted it and a ``random.Random`` (hypothesis
supplies one in the tests, a seeded one in ``benchmarks``-style counts) and returns the new answer,
or None when the relation does not apply to that answer. Perturbations only touch the answer's
body, never its unit, ``%`` or degree suffix (split off with the verifier's own ``strip_units``,
which only decides *where* to edit); each is chosen so the value provably changes: a literal
``v`` becomes ``v + 1``, ``v - 1``, ``2v`` (``v != 0``) or gets a different leading digit
(never a digit the gold's rounding could absorb); a term or factor that is not 0 or 1 is added
or dropped; the sign of a non-zero body flips; one of several solutions goes; a unit of another
scale replaces the prediction's when the gold has a unit.
"""
from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction

from transforms.verifiers.normalize import strip_units

_LITERAL_RE = re.compile(r"(?<![\w.\\])\d+(?:\.\d+)?")  # not after a letter (``\\frac12``, ``x_2``) or a point
_ASSIGNMENT_RE = re.compile(r"^([A-Za-z](?:_\{?\w{1,3}\}?)?\s*=\s*)")
_PLAIN_DECIMAL_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_PLAIN_FRAC_RE = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")
_ZERO_RE = re.compile(r"^[-+]?\s*0+(?:\.0+)?$")
_RELATION_RE = re.compile(r"=|<|>|\\(?:le|ge|leq|geq|in|cup|cap|ne|neq)(?![A-Za-z])")


def split_body(answer: str) -> tuple[str, str, str]:
    """``(prefix, body, suffix)``: the value without currency, unit, ``%`` or degree marks."""
    body, _ = strip_units(answer)
    at = answer.find(body) if body else -1
    if not body or at < 0:
        return "", answer, ""
    return answer[:at], body, answer[at + len(body):]


def _rebuild(answer: str, new_body: str | None) -> str | None:
    if new_body is None:
        return None
    prefix, _body, suffix = split_body(answer)
    return prefix + new_body + suffix


def _depth_map(s: str) -> list[int]:
    """Bracket depth before each character (``\\{``/``\\}`` count as brackets)."""
    depths, depth, i = [], 0, 0
    while i < len(s):
        depths.append(depth)
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depths.append(depth)
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    return depths


def top_level_terms(body: str) -> list[str] | None:
    """A sum's terms with their signs (``x^2+2x-1`` -> ``x^2``, ``+2x``, ``-1``); None for a list,
    a relation or one term."""
    if _RELATION_RE.search(body) or "," in body or ";" in body:
        return None
    depths = _depth_map(body)
    cuts = []
    for i, c in enumerate(body):
        if c in "+-" and depths[i] == 0 and i > 0:
            before = body[:i].rstrip()
            if not before or not (before[-1].isalnum() or before[-1] in ")}]") or re.search(r"\de$", before):
                continue
            if re.search(r"\\(?:cdot|times|div|pm)$", before):
                continue
            cuts.append(i)
    if not cuts:
        return None
    bounds = [0, *cuts, len(body)]
    return [body[a:b].strip() for a, b in itertools.pairwise(bounds)]


def _literals(body: str) -> list[re.Match]:
    return list(_LITERAL_RE.finditer(body))


def _format_like(template: str, value: Fraction) -> str:
    decimals = len(template.split(".", 1)[1]) if "." in template else 0
    if decimals:
        return f"{float(value):.{decimals}f}"
    return str(int(value))


def _replace_literal(answer: str, rng: random.Random, change) -> str | None:
    prefix, body, suffix = split_body(answer)
    literals = _literals(body)
    if not literals:
        return None
    m = rng.choice(literals)
    new = change(m.group())
    if new is None or new == m.group():
        return None
    return prefix + body[:m.start()] + new + body[m.end():] + suffix


def literal_plus_one(answer: str, rng: random.Random) -> str | None:
    return _replace_literal(answer, rng, lambda lit: _format_like(lit, Fraction(lit) + 1))


def literal_minus_one(answer: str, rng: random.Random) -> str | None:
    return _replace_literal(answer, rng, lambda lit: None if Fraction(lit) < 1 else _format_like(lit, Fraction(lit) - 1))


def literal_times_two(answer: str, rng: random.Random) -> str | None:
    return _replace_literal(answer, rng, lambda lit: None if Fraction(lit) == 0 else _format_like(lit, Fraction(lit) * 2))


def digit_changed(answer: str, rng: random.Random) -> str | None:
    """The leading significant digit of one literal becomes another digit."""
    def change(lit: str) -> str | None:
        at = next((i for i, c in enumerate(lit) if c.isdigit() and c != "0"), None)
        if at is None:
            return None
        choices = [d for d in "0123456789" if d != lit[at] and not (d == "0" and at == 0 and len(lit.split(".")[0]) > 1)]
        return lit[:at] + rng.choice(choices) + lit[at + 1:]
    return _replace_literal(answer, rng, change)


def sign_flipped(answer: str, rng: random.Random) -> str | None:
    prefix, body, suffix = split_body(answer)
    if _ZERO_RE.match(body):
        return None
    m = _ASSIGNMENT_RE.match(body)
    head, rest = (m.group(1), body[m.end():]) if m else ("", body)
    flipped = rest[1:].lstrip() if rest.startswith("-") else "-" + rest
    return prefix + head + flipped + suffix


def term_added(answer: str, rng: random.Random) -> str | None:
    term = rng.choice((" + 1", " - 1", " + \\sqrt{3}", " + sqrt(3)", " + \\pi", " + \\frac{1}{2}"))
    return _rebuild(answer, split_body(answer)[1] + term)


def factor_added(answer: str, rng: random.Random) -> str | None:
    body = split_body(answer)[1]
    if _ZERO_RE.match(body):
        return None
    factor = rng.choice(("\\pi", "\\sqrt{3}", " sqrt(3)", "x", "\\sqrt{2}"))
    return _rebuild(answer, body + factor)


def times_two(answer: str, rng: random.Random) -> str | None:
    body = split_body(answer)[1]
    if _ZERO_RE.match(body) or "," in body or _RELATION_RE.search(body):
        return None
    return _rebuild(answer, f"2\\cdot\\left({body}\\right)")


def term_dropped(answer: str, rng: random.Random) -> str | None:
    body = split_body(answer)[1]
    terms = top_level_terms(body)
    if not terms:
        return None
    drop = rng.randrange(len(terms))
    if _ZERO_RE.match(terms[drop]):
        return None
    kept = [t for i, t in enumerate(terms) if i != drop]
    text = " ".join(kept).lstrip("+ ").strip()
    return _rebuild(answer, text) if text else None


_FACTOR_RE = re.compile(r"\\pi(?![A-Za-z])|π|(?<![\\A-Za-z])pi(?![A-Za-z])|√\d+|(?<![A-Za-z\\])sqrt\([^()]*\)")


def factor_dropped(answer: str, rng: random.Random) -> str | None:
    body = split_body(answer)[1]
    spans = [(m.start(), m.end()) for m in _FACTOR_RE.finditer(body)]
    for m in re.finditer(r"\\sqrt\{", body):  # \sqrt{...} with its braces
        depth, i = 0, m.end() - 1
        while i < len(body):
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            if depth == 0:
                spans.append((m.start(), i + 1))
                break
            i += 1
    if not spans:
        return None
    start, end = rng.choice(spans)
    text = (body[:start] + body[end:]).strip()
    if not text or text == body or re.fullmatch(r"[-+]?", text):
        return None
    return _rebuild(answer, text)


def list_parts(answer: str) -> tuple[str, list[str], str] | None:
    """``(open, parts, close)`` of an answer listing several solutions (``2, -3``, ``\\{1, 2\\}``,
    ``1 \\text{ or } 2``); None for one solution."""
    opening, closing, inner = "", "", answer.strip()
    if inner.startswith("\\{") and inner.endswith("\\}"):
        opening, closing, inner = "\\{", "\\}", inner[2:-2]
    inner = re.sub(r"\\text\{\s*(?:or|and)\s*\}|\s(?:or|and)\s", ",", inner)
    depths = _depth_map(inner)
    cuts = [i for i, c in enumerate(inner) if c in ",;" and depths[i] == 0 and (i == 0 or inner[i - 1] != "\\")]
    if not cuts:
        return None
    bounds = [-1, *cuts, len(inner)]
    parts = [inner[a + 1:b].strip() for a, b in itertools.pairwise(bounds)]
    return (opening, parts, closing) if len(parts) > 1 and all(parts) else None


def solution_removed(answer: str, rng: random.Random) -> str | None:
    """One solution of a list of values (or of ``x = v`` for one letter) left out; tuples of
    assignments to several letters (``p=5, q=2``) are not split here."""
    listed = list_parts(answer)
    if listed is None or len({p[0] for p in listed[1] if _ASSIGNMENT_RE.match(p)}) > 1:
        return None
    opening, parts, closing = listed
    drop = rng.randrange(len(parts))
    return opening + ", ".join(p for i, p in enumerate(parts) if i != drop) + closing


#: Units an answer may be changed to; none is a synonym of another.
OTHER_UNITS = ("kg", "\\text{ s}", "mm", "\\text{ km}", "\\text{ g}", "h", "\\text{ mL}")


def _unit_key(unit: str) -> str:
    return re.sub(r"\\text\{|\\mathrm\{|[{}\\\s]", "", unit).lower()


def unit_changed(answer: str, rng: random.Random, gold_unit: str) -> str | None:
    """The prediction's unit replaced by another one (only when the gold has a unit)."""
    prefix, body, _suffix = split_body(answer)
    _, marks = strip_units(answer)
    if not gold_unit or not marks.unit or marks.percent:
        return None
    candidates = [u for u in OTHER_UNITS if _unit_key(u) not in (_unit_key(marks.unit), _unit_key(gold_unit))]
    return f"{prefix}{body} {rng.choice(candidates)}"


def unit_added(answer: str, rng: random.Random, gold_unit: str) -> str | None:
    """A bare prediction given a unit other than the gold's."""
    _, marks = strip_units(answer)
    if not gold_unit or marks.unit or marks.percent or marks.currency:
        return None
    candidates = [u for u in OTHER_UNITS if _unit_key(u) != _unit_key(gold_unit)]
    return answer + " " + rng.choice(candidates)


def unit_dropped(answer: str, rng: random.Random, gold_unit: str, gold_value: Fraction | None) -> str | None:
    """A prediction whose number differs from the gold's (its unit carries the factor) without its unit."""
    body, marks = strip_units(answer)
    pred_value = plain_value(body)
    if not gold_unit or not marks.unit or pred_value is None or gold_value is None or pred_value == gold_value:
        return None
    return body


def plain_value(text: str) -> Fraction | None:
    """A plain decimal or ``\\frac{a}{b}`` as a fraction (the test's own reading), else None."""
    s = text.strip().replace("\\dfrac", "\\frac")
    if _PLAIN_DECIMAL_RE.match(s):
        return Fraction(s)
    m = _PLAIN_FRAC_RE.match(s)
    if m and int(m.group(3)):
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


PERTURBATIONS = {
    "literal_plus_one": literal_plus_one, "literal_minus_one": literal_minus_one,
    "literal_times_two": literal_times_two, "digit_changed": digit_changed, "sign_flipped": sign_flipped,
    "term_added": term_added, "factor_added": factor_added, "times_two": times_two, "term_dropped": term_dropped,
    "factor_dropped": factor_dropped, "solution_removed": solution_removed,
}
UNIT_PERTURBATIONS = {"unit_changed": unit_changed, "unit_added": unit_added}


# ---------------------------------------------------------------- equivalent rewrites


def fraction_decimal(answer: str, rng: random.Random, gold_value: Fraction | None) -> str | None:
    """A plain number equal to the gold written the other way: ``0.5`` <-> ``\\frac{1}{2}``."""
    prefix, body, suffix = split_body(answer)
    value = plain_value(body)
    if value is None or value != gold_value:
        return None
    if _PLAIN_DECIMAL_RE.match(body.strip()):
        sign = "-" if value < 0 else ""
        return f"{prefix}{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}{suffix}"
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        return None
    text = f"{float(value):.12f}".rstrip("0").rstrip(".")
    return prefix + text + suffix


def reordered_sum(answer: str, rng: random.Random) -> str | None:
    terms = top_level_terms(split_body(answer)[1])
    if not terms:
        return None
    signed = [t if t[0] in "+-" else "+" + t for t in terms]
    k = rng.randrange(1, len(signed))
    rotated = signed[k:] + signed[:k]
    return _rebuild(answer, " ".join(rotated).lstrip("+").strip())


_PRODUCT_RE = re.compile(r"^(-?\d+)\s*(\\sqrt\{\d+\}|\\pi|[a-z])$")


def reordered_product(answer: str, rng: random.Random) -> str | None:
    m = _PRODUCT_RE.match(split_body(answer)[1].strip())
    if not m:
        return None
    coefficient, factor = m.groups()
    sign, coefficient = ("-", coefficient[1:]) if coefficient.startswith("-") else ("", coefficient)
    return _rebuild(answer, f"{sign}{factor} \\cdot {coefficient}")


def dfrac(answer: str, rng: random.Random) -> str | None:
    if "\\frac" not in answer:
        return None
    return re.sub(r"\\frac(?![A-Za-z])", rng.choice(("\\\\dfrac", "\\\\tfrac")), answer)


def sqrt_forms(answer: str, rng: random.Random) -> str | None:
    """``\\sqrt{3}`` -> ``sqrt(3)``, ``√3`` or ``3^{1/2}`` (after a digit with an explicit product)."""
    m = re.search(r"\\sqrt\{(\d+)\}", answer)
    if not m:
        return None
    n = m.group(1)
    after_factor = m.start() > 0 and (answer[m.start() - 1].isalnum() or answer[m.start() - 1] in ")}")
    form = rng.choice((f"sqrt({n})", f"{n}^{{1/2}}", f"\\sqrt {n}" if len(n) == 1 else f"sqrt({n})"))
    if form.startswith(n) and after_factor:
        form = "\\cdot " + form
    return answer[:m.start()] + form + answer[m.end():]


def spacing(answer: str, rng: random.Random) -> str | None:
    """LaTeX spacing around binary operators and after list commas."""
    space = rng.choice(("\\,", "\\ ", "~", "  ", "\\;", "\\quad "))
    new = re.sub(r"(?<=[\w})])\s*([+=]|(?<!e)-)\s*(?=[\w\\({])", lambda m: f"{space}{m.group(1)}{space}", answer)
    new = re.sub(r",\s+(?=\S)", lambda m: "," + space, new)
    return new if new != answer else None


def left_right(answer: str, rng: random.Random) -> str | None:
    if "\\text" in answer or not re.search(r"\d", answer):
        return None
    if "(" in answer or ")" in answer:
        return answer.replace("\\left(", "(").replace("\\right)", ")").replace("(", "\\left(").replace(")", "\\right)")
    prefix, body, suffix = split_body(answer)
    if "," in body or _RELATION_RE.search(body) or body.startswith(("[", "\\{")):
        return None
    return prefix + "\\left(" + body + "\\right)" + (" " if suffix[:1].isalpha() else "") + suffix


def thousands(answer: str, rng: random.Random) -> str | None:
    prefix, body, suffix = split_body(answer)
    m = re.fullmatch(r"(-?)(\d{4,})", body.strip())
    if not m:
        return None
    digits = m.group(2)
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return prefix + m.group(1) + rng.choice((",", "\\,", "{,}")).join(groups) + suffix


REWRITES = {
    "reordered_sum": reordered_sum, "reordered_product": reordered_product, "dfrac": dfrac,
    "sqrt_forms": sqrt_forms, "spacing": spacing, "left_right": left_right, "thousands": thousands,
}
