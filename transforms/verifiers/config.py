"""Thresholds for answer verification and the format checks, with documented defaults."""
from __future__ import annotations

from dataclasses import dataclass

#: Script names ``allowed_scripts`` may hold (ranges live in ``format_checks``).
KNOWN_SCRIPTS = (
    "common",  # digits, whitespace, ASCII/Latin-1/general punctuation, currency, arrows, shapes
    "latin",  # Latin letters incl. accented and extended Latin
    "greek",  # Greek letters, used as math symbols (alpha, pi, theta, ...)
    "math",  # math operators, letter-like symbols, super/subscripts, math alphanumerics
    "cjk",  # Han ideographs, CJK punctuation, full-width forms
    "kana",  # Japanese hiragana and katakana
    "hangul",  # Korean
    "cyrillic",
    "arabic",
    "devanagari",
)


@dataclass(frozen=True)
class VerifyConfig:
    """Every threshold :func:`transforms.verifiers.verify` applies.

    Reasoning block
        ``require_reasoning``: the ``single_reasoning_block`` check fails with ``no_reasoning`` when
        the output has neither ``<think>`` tags nor a separate reasoning field, and
        ``reasoning_nonempty`` runs. Set False for a non-reasoning teacher: a missing block then
        passes, ``reasoning_nonempty`` is skipped, but a *malformed* block still fails.
        ``allow_implicit_think_open``: accept a lone ``</think>`` (chat templates such as
        DeepSeek-R1's put the opening ``<think>`` into the prompt, so the output never shows it).
        ``min_reasoning_chars``: a reasoning block shorter than this (stripped) is empty.

    Length (characters of reasoning + output)
        ``min_chars`` / ``max_chars``: outside this range fails ``length_ok`` (``too_short`` /
        ``too_long``). 100,000 characters is roughly 25k tokens.

    Repetition (``no_repetition``, reason ``repetition``)
        Tokens are Latin/digit words and single other characters (so a CJK character is a token).
        ``ngram_size``: n-gram length in tokens. ``max_repeated_ngram_share``: the share of n-grams
        that repeat an earlier n-gram (``1 - unique / total``) above which the text is repetitive;
        the n-gram test needs at least ``4 * ngram_size`` tokens. ``max_repeated_line_share``: the
        share of lines (at least ``min_line_chars`` long, at least ``min_lines`` of them) that
        repeat an earlier line.

    Language (``language_consistent``, reason ``language_mix``)
        ``allowed_scripts``: names from :data:`KNOWN_SCRIPTS`. ``max_foreign_char_share``: the
        highest tolerated share of non-whitespace characters outside those scripts.

    Numeric equivalence
        Two plain numbers are equal when their exact values are equal, or when
        ``|pred - gold| <= max(abs_tol, rel_tol * |gold|)``; ``integer_exact`` turns the tolerance
        off when the gold is written as an integer (gold ``3`` takes ``3``, ``3.0``, ``6/2``, not
        ``2.9999999``). ``round_to_gold_decimals``: when the gold is written with d >= 1 decimals
        and the prediction is more precise (more decimals, or a fraction), the prediction is
        accepted if it lies within half a unit of the gold's last digit (gold ``3.14`` takes
        ``3.1416``). ``percent_equivalence``: when exactly one side carries ``%``, ``x%`` also
        matches ``x/100`` (gold ``50%`` takes ``0.5`` and ``50``).

    Free-form answers
        A free-form answer equal to the gold after normalization (case, articles, punctuation,
        LaTeX text wrappers) is correct; a yes/no gold takes the prediction's yes/no word; numbers
        (digits or English number words) go to the numeric rule. Anything else is *unverifiable*
        (``Verdict.unverifiable``, reason ``unverifiable``), except: with ``distinct_words_differ``,
        two single words (no spaces; a CJK word counts as one) neither of which is a prefix of the
        other are different (``London`` vs ``Paris``; ``triangle`` vs ``triangles`` stays
        unverifiable). Synonyms (``car`` / ``automobile``) are then judged different: turn it off
        to leave them to an answer judge.

    Symbolic equivalence (math-verify)
        math-verify's own timeouts use ``signal.alarm``, which only works in the main thread, so
        they are disabled; instead an answer is sent to math-verify only when it is at most
        ``max_math_chars`` long, its braces nest at most ``max_brace_depth`` deep, it holds no power
        tower, no exponent above ``max_exponent`` and no factorial/binomial argument above
        ``max_factorial_arg`` (those run as single uninterruptible big-integer operations), and
        the whole parse + compare runs under a per-call wall-clock ``math_verify_budget_s``
        enforced by a watchdog thread (``transforms.verifiers.budget``). An answer refused by the
        guard or out of budget fails ``answer_match`` with reason ``unverifiable``.
        ``float_rounding`` / ``numeric_precision`` are passed to math-verify's ``verify``.
    """

    # reasoning block
    require_reasoning: bool = True
    allow_implicit_think_open: bool = True
    min_reasoning_chars: int = 1
    # length
    min_chars: int = 10
    max_chars: int = 100_000
    # repetition
    ngram_size: int = 10
    max_repeated_ngram_share: float = 0.3
    max_repeated_line_share: float = 0.3
    min_line_chars: int = 10
    min_lines: int = 6
    # language
    allowed_scripts: tuple[str, ...] = ("common", "latin", "greek", "math", "cjk")
    max_foreign_char_share: float = 0.02
    # numeric equivalence
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    integer_exact: bool = True
    round_to_gold_decimals: bool = True
    percent_equivalence: bool = True
    # free form
    distinct_words_differ: bool = True
    # symbolic equivalence (math-verify)
    math_verify_budget_s: float = 0.5
    max_math_chars: int = 256
    max_brace_depth: int = 12
    max_exponent: int = 10_000
    max_factorial_arg: int = 1_000
    float_rounding: int = 6
    numeric_precision: int = 15

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_scripts", tuple(self.allowed_scripts))
        for name in ("max_repeated_ngram_share", "max_repeated_line_share", "max_foreign_char_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for name in ("ngram_size", "min_line_chars", "min_lines", "max_math_chars", "max_brace_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_chars < 0 or self.max_chars < self.min_chars:
            raise ValueError(f"need 0 <= min_chars <= max_chars, got {self.min_chars}, {self.max_chars}")
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ValueError("rel_tol and abs_tol must be >= 0")
        if self.math_verify_budget_s <= 0:
            raise ValueError("math_verify_budget_s must be > 0")
        unknown = set(self.allowed_scripts) - set(KNOWN_SCRIPTS)
        if unknown:
            raise ValueError(f"unknown scripts {sorted(unknown)}; known: {KNOWN_SCRIPTS}")


DEFAULT_CONFIG = VerifyConfig()
