"""Decide whether an extracted answer equals the gold answer.

Cheapest rule first; math-verify only when no plain rule decides:

* multiple choice: option letters (the gold may be a letter or an option's text);
* identical after normalization (spacing, delimiters, ``\\dfrac``) -> equal;
* several solutions in the gold (``2, -3``, ``x=2 or x=-3``, ``p=5,q=2;p=7,q=2``): the
  prediction's solutions must be the same set, each pair compared by the rules below
  (``solutions``); predicted solutions that are all right but miss some are a ``partial_answer``;
* yes/no gold: the prediction's yes/no word (another answer is unverifiable);
* both plain numbers (currency, %, percent words, thousands separators stripped): their units
  decide first (``units.relation``: pint converts, other dimensions or money against a quantity
  differ, a noun pint does not know against another unit is undecided); a side without a unit is
  read in the other side's unit (``numeric``). The gold's unit is the one written in it, else the
  problem's ``unit``. A word after a number that is no unit and no noun (``3 ab``, ``3ab``) makes
  it no plain number;
* angles: a multiple of pi against a gold in degrees, or the reverse, compared in degrees (``angle``);
* free form: normalized text; math-verify when the gold has math in it; two different single
  words differ (``words``, ``VerifyConfig.distinct_words_differ``); anything else is *unverifiable*;
* numeric / expression otherwise: ``%``, degrees, ``\\text{}`` units and currency are split off
  both sides and related as for numbers (so ``25\\pi\\%`` is ``25\\pi`` against ``25``), both
  bodies take one canonical LaTeX form (``math_text``), then an exact comparison when both are in
  its subset and it can tell for sure (``exact``: polynomials, fractions, radicals, pi, intervals
  of constants), else math-verify, gold first, guarded and time-bounded. A side that cannot be
  read whole is *unverifiable*, never compared in part.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.exact import exact_equal
from transforms.verifiers.math_text import math_text
from transforms.verifiers.normalize import (
    Number,
    choice_letter_for_text,
    clean_answer,
    letter_of,
    normalize_expression,
    normalize_text,
    number_rule,
    number_word,
    numbers_equal,
    option_letters,
    parse_number,
    split_amc,
    strip_units,
    yes_no,
)
from transforms.verifiers.solutions import Solution, solutions
from transforms.verifiers.symbolic import math_equal
from transforms.verifiers.units import Relation, conversion, is_angle, is_count_word, parse_unit, pi_multiple, relation


@dataclass(frozen=True)
class Match:
    """``equal``; ``method`` that decided; ``decided`` False when no rule could decide;
    ``reason`` names a decided difference when it is not a plain wrong answer (``partial_answer``)."""

    equal: bool
    method: str
    decided: bool = True
    reason: str = ""


def gold_letter(gold: str, choices: list[str] | None, config: VerifyConfig) -> str | None:
    """The option letter a multiple-choice gold names, given as a letter or as an option's text."""
    return letter_of(gold, option_letters(choices)) or \
        choice_letter_for_text(gold, choices, **number_rule(config))


def answers_match(pred: str, gold: str, answer_type: str, choices: list[str] | None,
                  config: VerifyConfig, unit: str = "") -> Match:
    """Compare an extracted answer with the gold answer under ``answer_type``; ``unit`` is the
    problem's unit for a gold written without one."""
    gold = clean_answer(gold)
    pred = clean_answer(pred)
    if not gold or not pred:
        return Match(False, "empty")

    amc = split_amc(pred) if answer_type != "multiple_choice" else None
    if amc:  # ``\\textbf{(B)}\\ 45``: the letter against a letter gold, else the value
        want = letter_of(gold, option_letters(None))
        if want is not None:
            return Match(amc[0] == want, "letter")
        pred = amc[1] or pred

    if answer_type == "multiple_choice":
        letters = option_letters(choices)
        want = gold_letter(gold, choices, config)
        if want is not None:
            got = letter_of(pred, letters) or choice_letter_for_text(pred, choices, **number_rule(config))
            return Match(got == want, "letter")
        # A gold that is neither a letter nor an option text: compare it as free text below.

    if normalize_expression(pred) == normalize_expression(gold):
        return Match(True, "string")

    gold_parts = solutions(gold) if answer_type != "multiple_choice" else (Solution(gold),)
    if len(gold_parts) > 1 or gold_parts[0].names:
        return _same_solutions(solutions(pred), gold_parts, answer_type, config, unit)
    return _single_match(pred, gold, answer_type, config, unit)


def _same_solutions(pred_parts: tuple[Solution, ...], gold_parts: tuple[Solution, ...], answer_type: str,
                    config: VerifyConfig, unit: str) -> Match:
    """Set equality: every predicted solution equals a gold one and every gold one is predicted.
    Right solutions that miss some of the gold's are ``partial_answer``. A gold that is one tuple
    (``x=1, y=2``) takes the prediction's plain values in order (``1, 2``)."""
    kind = "expression" if answer_type == "free_form" else answer_type
    if len(gold_parts) == 1 and len(pred_parts) == len(gold_parts[0].names) and not any(p.names for p in pred_parts):
        pred_parts = (Solution("(" + ", ".join(p.text for p in pred_parts) + ")"),)
    undecided = False
    seen: dict[tuple[int, int], bool] = {}

    def same(i: int, j: int) -> bool:
        nonlocal undecided
        if (i, j) not in seen:
            pred, gold = pred_parts[i], gold_parts[j]
            if pred.names and gold.names and pred.names != gold.names:
                seen[i, j] = False
            else:
                m = _single_match(pred.text, gold.text, kind, config, unit)
                undecided |= not m.decided
                seen[i, j] = m.equal
        return seen[i, j]

    all_right = all(any(same(i, j) for j in range(len(gold_parts))) for i in range(len(pred_parts)))
    if all_right and all(any(same(i, j) for i in range(len(pred_parts))) for j in range(len(gold_parts))):
        return Match(True, "solutions")
    if all_right:
        return Match(False, "solutions", reason="partial_answer")
    if undecided:
        return Match(False, "solutions", decided=False)
    return Match(False, "solutions")


def _single_match(pred: str, gold: str, answer_type: str, config: VerifyConfig, unit: str) -> Match:
    if normalize_expression(pred) == normalize_expression(gold):
        return Match(True, "string")
    free = answer_type in ("free_form", "multiple_choice")

    gold_num = _plain(parse_number(gold))
    pred_num = _plain(parse_number(pred))
    gold_yn = yes_no(gold)
    if gold_yn is not None and gold_num is None:
        pred_yn = yes_no(pred)
        if pred_yn is None:
            return Match(False, "yes_no", decided=False)
        return Match(pred_yn == gold_yn, "yes_no")

    if pred_num is None and gold_num is not None:
        pred_num = number_word(pred)
    if gold_num is not None and unit and not gold_num.unit and not gold_num.currency:
        gold_num = replace(gold_num, unit=unit)
    if gold_num is not None and pred_num is not None:
        return _numbers_match(pred_num, gold_num, config)

    angle = _angle_match(pred, gold, pred_num, gold_num, config)
    if angle is not None:
        return angle

    if free:
        gold_key = normalize_text(gold)
        pred_key = normalize_text(pred)
        if gold_key and pred_key == gold_key:
            return Match(True, "text")
        if not looks_mathy(gold):
            if config.distinct_words_differ and _distinct_words(pred_key, gold_key):
                return Match(False, "words")
            return Match(False, "text", decided=False)
    return _symbolic_match(pred, gold, config, unit)


def _plain(number: Number | None) -> Number | None:
    """The number, unless the word after it is neither a unit nor a noun: a variable or a product
    of them (``3 ab``, ``3ab``, ``2x``), so the answer is an expression."""
    if number is None or not number.unit or number.currency or is_count_word(number.unit):
        return number
    if parse_unit(number.unit) is not None:
        return number
    word = normalize_text(number.unit).replace(" ", "")
    return number if len(word) >= 3 and not number.attached and word.isalpha() else None


def _symbolic_match(pred: str, gold: str, config: VerifyConfig, unit: str) -> Match:
    """Split units, ``%`` and currency off both sides (a bare unit word only off a plain number:
    in ``x + 2 m`` the ``m`` is a variable), relate them, then compare the bodies exactly or with
    math-verify; a body that cannot be read whole leaves the comparison undecided."""
    pred_body, pred_marks = strip_units(pred, words=_plain(parse_number(pred)) is not None)
    gold_body, gold_marks = strip_units(gold, words=_plain(parse_number(gold)) is not None)
    gold_unit = gold_marks.unit or ("" if gold_marks.currency else unit)
    rel = relation(pred_marks.unit, pred_marks.currency, gold_unit, gold_marks.currency)
    if rel.kind in ("differ", "unknown"):
        return Match(False, "units", decided=rel.kind == "differ")
    if rel.offset or max(len(pred_body), len(gold_body)) > config.max_math_chars:
        return Match(False, "math_verify", decided=False)
    pred_text, gold_text = math_text(_scaled(pred_body, rel)), math_text(gold_body)
    if pred_text is None or gold_text is None:
        return Match(False, "math_verify", decided=False)
    pairs = [(pred_text, gold_text)]
    if config.percent_equivalence and pred_marks.percent != gold_marks.percent:
        pairs.append((_hundredth(pred_text), gold_text) if pred_marks.percent else (pred_text, _hundredth(gold_text)))
    verdicts = [_compare_bodies(p, g, config) for p, g in pairs]
    for equal, method in verdicts:
        if equal:
            return Match(True, method)
    if any(equal is None for equal, _ in verdicts):
        return Match(False, "math_verify", decided=False)
    return Match(False, verdicts[0][1])


def _scaled(body: str, rel: Relation) -> str:
    if rel.kind != "convert" or rel.scale == 1:
        return body
    return f"\\frac{{{rel.scale.numerator}}}{{{rel.scale.denominator}}}\\cdot\\left({body}\\right)"


def _hundredth(text: str) -> str:
    return f"\\frac{{1}}{{100}}\\cdot\\left({text}\\right)"


def _compare_bodies(pred: str, gold: str, config: VerifyConfig) -> tuple[bool | None, str]:
    if config.exact_before_math_verify:
        verdict = exact_equal(pred, gold)
        if verdict is not None:
            return verdict, "exact"
    return math_equal(pred, gold, config), "math_verify"


def _numbers_match(pred: Number, gold: Number, config: VerifyConfig) -> Match:
    """Two numbers: their units' relation first (``units.relation``), then the numeric rule."""
    rule = number_rule(config)
    rel = relation(pred.unit, pred.currency, gold.unit, gold.currency)
    if rel.kind in ("differ", "unknown"):
        return Match(False, "units", decided=rel.kind == "differ")
    if rel.kind == "convert":
        # pint's factors are floats: after a conversion the tolerance applies even to an integer gold
        converted = Number(pred.value * rel.scale + rel.offset, None, False, pred.percent)
        if numbers_equal(converted, gold, **{**rule, "integer_exact": False}) or _within_pred_rounding(pred, gold):
            return Match(True, "units")
        return Match(False, "units")
    return Match(numbers_equal(pred, gold, **rule), "numeric")


def _within_pred_rounding(pred: Number, gold: Number) -> bool:
    """The gold converted to the prediction's unit rounds to the prediction (``16.4 ft`` for
    ``5 m``: the prediction was rounded after converting)."""
    back = conversion(gold.unit, pred.unit)
    if back is None or not pred.decimals:
        return False
    scale, offset = back
    gold_there = gold.value * scale + offset
    return abs(gold_there - pred.value) * 2 * 10 ** pred.decimals <= 1


def _angle_match(pred: str, gold: str, pred_num: Number | None, gold_num: Number | None,
                 config: VerifyConfig) -> Match | None:
    """A multiple of pi (radians) against degrees, either way round; None when this is not that case."""
    if gold_num is not None and is_angle(gold_num.unit):
        pi = pi_multiple(pred)
        if pi is None:
            return None
        gold_degrees = replace(gold_num, value=_to_degrees(gold_num), unit="degree")
        return Match(numbers_equal(Number(pi * 180, None, False, False), gold_degrees, **number_rule(config)), "angle")
    if pred_num is not None and is_angle(pred_num.unit):
        pi = pi_multiple(gold)
        if pi is None:
            return None
        gold_degrees = Number(pi * 180, None, False, False, "degree")
        return Match(numbers_equal(replace(pred_num, unit="degree", value=_to_degrees(pred_num)), gold_degrees,
                                   **number_rule(config)), "angle")
    return None


def _to_degrees(number: Number) -> Fraction | None:
    conv = conversion(number.unit, "degree")
    return None if conv is None else number.value * conv[0] + conv[1]


def _distinct_words(pred_key: str, gold_key: str) -> bool:
    """Both one word (no spaces; a CJK word counts as one), no digits, and neither a prefix of the
    other (``triangle`` / ``triangles`` stay undecided)."""
    if not pred_key or not gold_key or " " in pred_key or " " in gold_key:
        return False
    if any(c.isdigit() for c in pred_key + gold_key):
        return False
    return not (pred_key.startswith(gold_key) or gold_key.startswith(pred_key))
