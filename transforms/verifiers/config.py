"""Thresholds for answer verification and the format checks, with documented defaults."""
from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from schemas.settings import Settings
from transforms.verifiers.hygiene import HygieneSettings

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


class VerifyConfig(Settings):
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

    Exact fast path
        ``exact_before_math_verify``: compare answers in a small LaTeX subset (polynomials,
        fractions, square roots of rationals, pi, intervals of constants) exactly before asking
        math-verify, which then sees only what that comparison cannot settle
        (``transforms.verifiers.exact``). Off: math-verify decides them all (the benchmark's baseline).

    Chain hygiene (``hygiene``, the verify stage's ``hygiene`` check)
        Special tokens of student chat templates, media markers, control characters and lone
        surrogates in a teacher's chain: ``policy: drop`` (default) fails the chain, ``escape`` keeps
        it escaped reversibly; ``tokens``, ``patterns``, ``extra_tokens``, ``student_tokenizer`` (a
        local tokenizer whose special tokens are added). See ``transforms/verifiers/hygiene.py``.

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
    min_chars: int = Field(default=10, ge=0)
    max_chars: int = 100_000
    # repetition
    ngram_size: int = Field(default=10, ge=1)
    max_repeated_ngram_share: float = Field(default=0.3, ge=0.0, le=1.0)
    max_repeated_line_share: float = Field(default=0.3, ge=0.0, le=1.0)
    min_line_chars: int = Field(default=10, ge=1)
    min_lines: int = Field(default=6, ge=1)
    # language
    allowed_scripts: tuple[str, ...] = ("common", "latin", "greek", "math", "cjk")
    max_foreign_char_share: float = Field(default=0.02, ge=0.0, le=1.0)
    # numeric equivalence
    rel_tol: float = Field(default=1e-6, ge=0.0)
    abs_tol: float = Field(default=1e-9, ge=0.0)
    integer_exact: bool = True
    round_to_gold_decimals: bool = True
    percent_equivalence: bool = True
    # free form
    distinct_words_differ: bool = True
    # symbolic equivalence: the exact fast path, then math-verify
    exact_before_math_verify: bool = True
    math_verify_budget_s: float = Field(default=0.5, gt=0.0)
    max_math_chars: int = Field(default=256, ge=1)
    max_brace_depth: int = Field(default=12, ge=1)
    max_exponent: int = 10_000
    max_factorial_arg: int = 1_000
    float_rounding: int = 6
    numeric_precision: int = 15

    # what a kept chain may not hold (special tokens, media markers, control characters): see verifiers/hygiene.py
    hygiene: HygieneSettings = HygieneSettings()

    @field_validator("allowed_scripts")
    @classmethod
    def _known_scripts(cls, scripts: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(scripts) - set(KNOWN_SCRIPTS)
        if unknown:
            raise ValueError(f"unknown scripts {sorted(unknown)}; known: {KNOWN_SCRIPTS}")
        return scripts

    @model_validator(mode="after")
    def _length_range(self) -> VerifyConfig:
        if self.max_chars < self.min_chars:
            raise ValueError(f"need min_chars <= max_chars, got {self.min_chars}, {self.max_chars}")
        return self


DEFAULT_CONFIG = VerifyConfig()
