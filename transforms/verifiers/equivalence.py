"""Decide whether an extracted answer equals the gold answer.

Cheapest rule first; math-verify only when no plain rule decides:

* multiple choice: option letters (the gold may be a letter or an option's text);
* identical after normalization (spacing, delimiters, ``\\dfrac``) -> equal;
* yes/no gold: the prediction's yes/no word;
* both plain numbers (units, %, degrees, currency, thousands separators stripped) -> the numeric
  rule of ``VerifyConfig`` (no math-verify);
* free form: normalized text, then math-verify only if the gold has math in it;
* numeric / expression otherwise: math-verify, gold first, guarded and time-bounded.
"""
from __future__ import annotations

from dataclasses import dataclass

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.normalize import (
    choice_letter_for_text,
    clean_answer,
    letter_of,
    normalize_expression,
    normalize_text,
    number_rule,
    numbers_equal,
    option_letters,
    parse_number,
    yes_no,
)
from transforms.verifiers.symbolic import math_equal


@dataclass(frozen=True)
class Match:
    """``equal``; ``method`` that decided; ``decided`` False when math-verify could not decide."""

    equal: bool
    method: str
    decided: bool = True


def gold_letter(gold: str, choices: list[str] | None, config: VerifyConfig) -> str | None:
    """The option letter a multiple-choice gold names, given as a letter or as an option's text."""
    return letter_of(gold, option_letters(choices)) or \
        choice_letter_for_text(gold, choices, **number_rule(config))


def answers_match(pred: str, gold: str, answer_type: str, choices: list[str] | None,
                  config: VerifyConfig) -> Match:
    """Compare an extracted answer with the gold answer under ``answer_type``."""
    gold = clean_answer(gold)
    pred = clean_answer(pred)
    if not gold or not pred:
        return Match(False, "empty")

    if answer_type == "multiple_choice":
        letters = option_letters(choices)
        want = gold_letter(gold, choices, config)
        if want is not None:
            got = letter_of(pred, letters) or choice_letter_for_text(pred, choices, **number_rule(config))
            return Match(got == want, "letter")
        # A gold that is neither a letter nor an option text: compare it as free text below.

    if normalize_expression(pred) == normalize_expression(gold):
        return Match(True, "string")

    gold_yn = yes_no(gold)
    if gold_yn is not None and parse_number(gold) is None:
        return Match(yes_no(pred) == gold_yn, "yes_no")

    gold_num = parse_number(gold)
    pred_num = parse_number(pred)
    if gold_num is not None and pred_num is not None:
        return Match(numbers_equal(pred_num, gold_num, **number_rule(config)), "numeric")

    if answer_type in ("free_form", "multiple_choice"):
        gold_key = normalize_text(gold)
        if gold_key and normalize_text(pred) == gold_key:
            return Match(True, "text")
        if not looks_mathy(gold):
            return Match(False, "text")

    verdict = math_equal(pred, gold, config)
    if verdict is None:
        return Match(False, "math_verify", decided=False)
    return Match(verdict, "math_verify")
