"""math-verify, made safe for worker threads and bounded in time.

math-verify's ``parse(..., parsing_timeout=5)`` and ``verify(..., timeout_seconds=5)`` wrap their
work in ``signal.alarm``, which raises ``ValueError`` outside the main thread (Beam runs DoFns in
worker threads). Both timeouts are disabled here (``None``) and replaced by:

1. a static guard (:func:`guard_reason`) that refuses inputs whose cost is unbounded or sits in a
   single uninterruptible C call: longer than ``max_math_chars``, braces deeper than
   ``max_brace_depth``, power towers (``2^{2^{100}}``), exponents above ``max_exponent``, factorial or
   binomial arguments above ``max_factorial_arg``;
2. a per-call budget of the calling thread's CPU time (``math_verify_budget_s``) for parse +
   compare, enforced from a watchdog thread (:mod:`transforms.verifiers.budget`).

SymPy's first simplifications in a process import and build a lot (about a second); :func:`warm_up`
does that once, outside any budget, so the first real comparison is not cut short. It runs on first
use; a Beam DoFn should call it in ``setup``.

**Whole answers only.** math-verify's ``parse`` salvages what it can: when the LaTeX does not
parse it retries the part after the last ``=`` and then picks a plain number out of the text
(``1 + \\sqrt(3)`` compares as ``1``), and its normalization deletes trailing words and
``\\text{}`` as units (``1 - \\frac{1}{\\mathrm{e}}`` loses ``\\mathrm{e}}``). Here an answer is read
by the same parser (latex2sympy's grammar, which reads its whole input or raises) after
:func:`transforms.verifiers.math_text.math_text` and math-verify's normalization without its lossy
steps; an answer it cannot read whole makes the comparison undecided (``unverifiable``), never a
comparison of a part. Units are split off and compared before (``equivalence``).

Parsed answers are cached (the same gold is compared with every sampled chain).
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
from functools import lru_cache

from transforms.verifiers.budget import BudgetExceeded, call_with_budget
from transforms.verifiers.config import VerifyConfig


class _DropDisabledTimeoutWarning(logging.Filter):
    """math-verify warns once that its timeout is off; here that is deliberate (see module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropDisabledTimeoutWarning())

from transforms.verifiers.math_text import math_text  # noqa: E402

# math-verify and latex2sympy (SymPy, ~40 MB) are imported where they are called, on the workers:
# the launcher imports this module to build the graph and never compares answers (issue 29).

_EXPONENT_RE = re.compile(r"\^\s*\{?\s*\(?\s*([+-]?\d+)")
_TOWER_RE = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\(?[\w.]+\)?\s*\^|\*\*\s*\(?[\w.]+\)?\s*\*\*")
_FACTORIAL_RE = re.compile(r"(\d+)\s*\}?\s*\)?\s*!")
_BINOM_RE = re.compile(r"\\(?:binom|dbinom|tbinom|choose)\s*\{?\s*(\d+)")
_DOUBLE_FACTORIAL_RE = re.compile(r"!\s*!")


@lru_cache(maxsize=1)
def _whole():
    """math-verify's normalization minus its lossy steps: ``units`` deletes trailing words and
    ``\\text{}``, ``boxed`` keeps the last box, ``malformed_operators`` turns ``\\sqrt(3)`` into
    ``\\\\sqrt{3}``, ``nits`` rewrites numbers. ``math_text`` and ``equivalence`` do those jobs."""
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    return NormalizationConfig(basic_latex=True, units=False, malformed_operators=False, nits=False, boxed="none",
                               equations=False)


def guard_reason(text: str, config: VerifyConfig) -> str | None:
    """Why ``text`` must not reach math-verify, or None when it may."""
    if len(text) > config.max_math_chars:
        return "too_long"
    depth = deepest = 0
    for c in text:
        if c == "{" or c == "(" or c == "[":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c == "}" or c == ")" or c == "]":
            depth -= 1
    if deepest > config.max_brace_depth:
        return "too_deep"
    if _TOWER_RE.search(text):
        return "power_tower"
    for m in _EXPONENT_RE.finditer(text):
        if abs(int(m.group(1))) > config.max_exponent:
            return "huge_exponent"
    if _DOUBLE_FACTORIAL_RE.search(text):
        return "huge_factorial"
    for pattern in (_FACTORIAL_RE, _BINOM_RE):
        for m in pattern.finditer(text):
            if int(m.group(1)) > config.max_factorial_arg:
                return "huge_factorial"
    return None


@lru_cache(maxsize=8192)
def parse_whole(text: str):
    """``text`` (an answer without delimiters, units or ``%``) as one SymPy object, or None when the
    parser cannot read all of it. lru_cache does not store a call that raised, so an interrupted
    parse is not cached."""
    from latex2sympy2_extended.latex2sympy2 import latex2sympy
    from latex2sympy2_extended.math_normalization import normalize_latex
    from math_verify.grader import should_treat_as_complex

    canonical = math_text(text)
    if canonical is None:
        return None
    latex = normalize_latex(canonical, _whole())
    try:
        return latex2sympy(latex, is_real=not should_treat_as_complex(latex), convert_degrees=False,
                           normalization_config=None)
    except Exception:  # the grammar raises (plain Exception) on input it cannot read whole
        return None


def _compare(gold: str, pred: str, float_rounding: int, numeric_precision: int) -> bool | None:
    from math_verify import verify as _mv_verify

    pred_parsed = parse_whole(pred)  # first: a prediction that cannot be read whole needs no gold
    gold_parsed = parse_whole(gold) if pred_parsed is not None else None
    if gold_parsed is None or pred_parsed is None:
        return None
    # Gold first: math-verify's comparison is not symmetric (assignments, intervals).
    return bool(_mv_verify([gold_parsed], [pred_parsed], float_rounding=float_rounding,
                           numeric_precision=numeric_precision, timeout_seconds=None))


_WARM_LOCK = threading.Lock()
_warm = False
_WARM_PAIRS = (
    ("x^2+2x+1", "(x+1)^2"),
    ("\\sin^2 x", "1-\\cos^2 x"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"),
    ("[1,2)", "[1,2)"),
    ("(-\\infty,1)\\cup(2,\\infty)", "x<1 \\text{ or } x>2"),
    ("x=1", "1"),
    ("\\{1,2\\}", "\\{2,1\\}"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
)


def warm_up() -> None:
    """Pay SymPy's one-time import and setup cost now, without a budget (idempotent, thread-safe)."""
    global _warm
    if _warm:
        return
    with _WARM_LOCK:
        if _warm:
            return
        for gold, pred in _WARM_PAIRS:
            with contextlib.suppress(Exception):  # warming is best effort
                _compare(gold, pred, 6, 15)
        _warm = True


def math_equal(pred: str, gold: str, config: VerifyConfig) -> bool | None:
    """Whether math-verify finds ``pred`` equal to ``gold``; None when it could not decide
    (an input refused by the guard, one it cannot read whole, or the time budget ran out)."""
    if guard_reason(gold, config) or guard_reason(pred, config):
        return None
    warm_up()
    try:
        return call_with_budget(config.math_verify_budget_s, _compare, gold, pred,
                                config.float_rounding, config.numeric_precision)
    except BudgetExceeded:
        return None
    except Exception:  # math-verify catches its own errors; this is a last line of defence
        return None
