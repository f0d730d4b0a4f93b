"""Decide whether an extracted answer equals the gold answer.

Cheapest rule first; math-verify only when no plain rule decides:

* multiple choice: option letters (the gold may be a letter or an option's text);
* identical after normalization (spacing, delimiters, ``\\dfrac``) -> equal;
* several solutions in the gold (``2, -3``, ``x=2 or x=-3``): the prediction's solutions must be
  the same set, each pair compared by the rules below (``solutions``);
* yes/no gold: the prediction's yes/no word (another answer is unverifiable);
* both plain numbers (currency, %, thousands separators stripped): when both carry a unit, pint
  decides (``units``: same dimension and equal after conversion); a number without a unit takes
  the other side's unit (``numeric``). The gold's unit is the one written in it, else the
  problem's ``unit``;
* angles: a multiple of pi against a gold in degrees, or the reverse, compared in degrees (``angle``);
* free form: normalized text; math-verify when the gold has math in it; two different single
  words differ (``words``, ``VerifyConfig.distinct_words_differ``); anything else is *unverifiable*;
* numeric / expression otherwise: an exact comparison when both are in its subset and it can
  tell for sure (``exact``: polynomials, fractions, radicals, pi, intervals of constants), else
  math-verify, gold first, guarded and time-bounded.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.exact import exact_equal
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
    yes_no,
)
from transforms.verifiers.solutions import solutions
from transforms.verifiers.symbolic import math_equal
from transforms.verifiers.units import conversion, is_angle, parse_unit, pi_multiple


@dataclass(frozen=True)
class Match:
    """``equal``; ``method`` that decided; ``decided`` False when no rule could decide."""

    equal: bool
    method: str
    decided: bool = True


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

    gold_parts = solutions(gold) if answer_type != "multiple_choice" else (gold,)
    if len(gold_parts) > 1:
        return _same_solutions(solutions(pred), gold_parts, answer_type, config, unit)
    return _single_match(pred, gold, answer_type, config, unit)


def _same_solutions(pred_parts: tuple[str, ...], gold_parts: tuple[str, ...], answer_type: str,
                    config: VerifyConfig, unit: str) -> Match:
    """Set equality: every predicted solution equals a gold one and every gold one is predicted."""
    kind = "expression" if answer_type == "free_form" else answer_type
    undecided = False

    def covered(items, others, flip):
        nonlocal undecided
        for item in items:
            found = False
            for other in others:
                m = _single_match(other, item, kind, config, unit) if flip else _single_match(item, other, kind, config, unit)
                undecided |= not m.decided
                if m.equal:
                    found = True
                    break
            if not found:
                return False
        return True

    equal = covered(pred_parts, gold_parts, False) and covered(gold_parts, pred_parts, True)
    if not equal and undecided:
        return Match(False, "solutions", decided=False)
    return Match(equal, "solutions")


def _single_match(pred: str, gold: str, answer_type: str, config: VerifyConfig, unit: str) -> Match:
    if normalize_expression(pred) == normalize_expression(gold):
        return Match(True, "string")
    free = answer_type in ("free_form", "multiple_choice")

    gold_num = parse_number(gold)
    pred_num = parse_number(pred)
    gold_yn = yes_no(gold)
    if gold_yn is not None and gold_num is None:
        pred_yn = yes_no(pred)
        if pred_yn is None:
            return Match(False, "yes_no", decided=False)
        return Match(pred_yn == gold_yn, "yes_no")

    if pred_num is None and gold_num is not None:
        pred_num = number_word(pred)
    if gold_num is not None and unit and not gold_num.unit:
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

    if config.exact_before_math_verify:
        verdict = exact_equal(pred, gold)
        if verdict is not None:
            return Match(verdict, "exact")
    verdict = math_equal(pred, gold, config)
    if verdict is None:
        return Match(False, "math_verify", decided=False)
    return Match(verdict, "math_verify")


def _numbers_match(pred: Number, gold: Number, config: VerifyConfig) -> Match:
    """Two numbers: pint when both carry a unit it knows, else the bare rule (no unit: the other side's)."""
    rule = number_rule(config)
    if pred.unit and gold.unit and pred.unit != gold.unit:
        pred_unit, gold_unit = parse_unit(pred.unit), parse_unit(gold.unit)
        if pred_unit is not None and gold_unit is not None:
            conv = conversion(pred.unit, gold.unit)
            if conv is None:
                return Match(False, "units")
            scale, offset = conv
            # pint's factors are floats: after a conversion the tolerance applies even to an integer gold
            converted = Number(pred.value * scale + offset, None, False, pred.percent)
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
