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

from math_verify import parse as _mv_parse  # noqa: E402  (after the filter, which it would log past)
from math_verify import verify as _mv_verify  # noqa: E402

_EXPONENT_RE = re.compile(r"\^\s*\{?\s*\(?\s*([+-]?\d+)")
_TOWER_RE = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\(?[\w.]+\)?\s*\^|\*\*\s*\(?[\w.]+\)?\s*\*\*")
_FACTORIAL_RE = re.compile(r"(\d+)\s*\}?\s*\)?\s*!")
_BINOM_RE = re.compile(r"\\(?:binom|dbinom|tbinom|choose)\s*\{?\s*(\d+)")
_DOUBLE_FACTORIAL_RE = re.compile(r"!\s*!")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_THOUSANDS_RE = re.compile(r"(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))")


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


def _as_math(text: str) -> str:
    """One ``$...$`` block math-verify's LaTeX extraction will read as a whole."""
    s = text.strip()
    for left, right in _DELIMS:
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            s = s[len(left):len(s) - len(right)].strip()
            break
    s = _THOUSANDS_RE.sub("", s)
    return f"${s}$"


@lru_cache(maxsize=8192)
def _parse(latex: str) -> tuple:
    # lru_cache does not store a call that raised, so an interrupted parse is not cached.
    return tuple(_mv_parse(latex, parsing_timeout=None))


def _compare(gold: str, pred: str, float_rounding: int, numeric_precision: int) -> bool:
    gold_parsed = _parse(_as_math(gold))
    pred_parsed = _parse(_as_math(pred))
    if not gold_parsed or not pred_parsed:
        return False
    # Gold first: math-verify's comparison is not symmetric (assignments, intervals).
    return bool(_mv_verify(list(gold_parsed), list(pred_parsed), float_rounding=float_rounding,
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
    (an input refused by the guard, or the time budget ran out)."""
    if guard_reason(gold, config) or guard_reason(pred, config):
        return None
    warm_up()
    try:
        return call_with_budget(config.math_verify_budget_s, _compare, gold, pred,
                                config.float_rounding, config.numeric_precision)
    except BudgetExceeded:
        return None
    except Exception:  # math-verify catches its own errors; this is a last line of defence
        return False
