"""Infer a problem's answer type from its gold answer and choices when the source gave none."""
from __future__ import annotations

import re

from transforms.verifiers.config import DEFAULT_CONFIG
from transforms.verifiers.normalize import (
    choice_letter_for_text,
    letter_of,
    number_rule,
    option_letters,
    parse_number,
    yes_no,
)

ANSWER_TYPES = ("multiple_choice", "numeric", "expression", "free_form")

_MATHY_RE = re.compile(r"[\\^_=<>+*/()\[\]{}]|\d")
#: A gold that is only words in a text wrapper (``\\text{E}``, ``\\textbf{red}``): a word or an option, not
#: math (``\\mathrm{e}`` stays Euler's number).
_TEXT_GOLD_RE = re.compile(r"^\s*\$?\\(?:text|textbf|textit|textrm|mbox)\s*\{\s*\(?[^\W\d_]+(?:\s+[^\W\d_]+)*\)?\s*\}\$?\s*$")


def infer_answer_type(gold: str, choices: list[str] | None = None) -> str:
    """``multiple_choice`` when there are choices and the gold is a letter or one of their texts;
    ``numeric`` for a plain number (units, %, currency allowed); ``free_form`` for yes/no and for
    words, also in a text wrapper (``\\text{E}`` is the word or option E); ``expression`` for
    anything else that looks like math."""
    if choices and (letter_of(gold, option_letters(choices)) or
                    choice_letter_for_text(gold, choices, **number_rule(DEFAULT_CONFIG))):
        return "multiple_choice"
    if parse_number(gold) is not None:
        return "numeric"
    if yes_no(gold) is not None or _TEXT_GOLD_RE.match(gold):
        return "free_form"
    if _MATHY_RE.search(gold):
        return "expression"
    return "free_form"


def looks_mathy(text: str) -> bool:
    """Whether a free-form answer has math in it worth a symbolic comparison."""
    return bool(_MATHY_RE.search(text))
