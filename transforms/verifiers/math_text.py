"""The one LaTeX form both sides of a symbolic comparison take, or a refusal.

math-verify's parser (latex2sympy's ANTLR grammar) reads its whole input or raises, so a partial
parse comes from elsewhere: from text it misreads without an error. :func:`math_text` rewrites an
answer (the prediction and the gold alike) so the grammar reads what a person reads, and refuses
(None) what it would still read as less than the whole answer:

* plain-text functions and Greek letters (``sqrt(3)``, ``3 sqrt 3``, ``sin x``, ``pi``, ``√3``,
  ``theta``) become commands; math-verify's own rewrite of ``1 + sqrt(3)`` is ``1 +\\\\sqrt{3}``,
  whose ``\\\\`` ends the expression. The grammar reads a run of letters as their product, so a
  run that is a word is refused: a function name with more letters (``sinx``, ``xsqrt``), four
  letters or more (``largest``), a short English word (``is``, ``the``);
* juxtaposed numbers are summed by the grammar (``2 3``, ``(2)(3)`` and ``2(3)`` read 5; ``3\\frac{1}{2}``
  is 3.5 but ``3\\frac{1}{2}x`` is 1.5x): a number or bracket before ``(`` and a ``)`` before a
  number get an explicit ``\\cdot``; numbers separated only by spacing, and a number before a
  numeric ``\\frac``, are refused (plain mixed numbers are read by ``normalize.parse_number``);
* ``\\pi(`` is read as a function call: it gets a ``\\cdot``;
* primes and quotes are deleted by math-verify's normalization (``f'(x)`` reads ``f(x)``): refused;
* ``\\mathrm{e}`` (read as a symbol named e, or deleted as a unit) is Euler's ``e``;
  ``\\frac12``, ``\\sqrt3``, ``x^(1/2)``, ``**``, unicode operators, thousands separators
  (``1{,}000``, ``1\\,000``), ``\\left``/``\\right``, ``\\displaystyle`` and spacing commands
  take their plain LaTeX form.

Regex passes and bracket matching over an answer the caller has capped in length
(``VerifyConfig.max_math_chars``).
"""
from __future__ import annotations

import re
from functools import lru_cache

#: Plain-text Greek letter names, spelled as commands.
_GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "sigma", "omega", "phi", "rho", "tau", "mu")
#: Short English words: with them the answer is a sentence, not a product of letters.
_PROSE_WORDS = frozenset({"is", "the", "are", "of", "to", "be", "so", "if", "at", "for", "was", "its", "we", "it",
                          "as", "by", "on", "an", "am", "not", "all", "any", "but", "can", "has", "yes", "no"})
_FUNCTIONS = ("arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sin", "cos", "tan", "cot", "sec", "csc",
              "log", "ln", "exp")
_UNICODE = {"−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ", "π": "\\pi ", "∞": "\\infty ",
            "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "±": "\\pm ", "∪": "\\cup ", "∩": "\\cap ", "∈": "\\in ",
            "²": "^{2}", "³": "^{3}", "°": "^{\\circ}", "√": " sqrt"}  # like plain ``sqrt``: ``√10`` is sqrt(10)
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
_THOUSANDS_RE = re.compile(r"(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))")
_DROP_RE = re.compile(r"\\displaystyle|\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![A-Za-z])")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad(?![A-Za-z])|~")
_EULER_RE = re.compile(r"\\(?:mathrm|text|textrm|operatorname|rm)\s*\{\s*([ei])\s*\}")
_PLAIN_FUNCTION_RE = re.compile(r"(?<![\\A-Za-z])(" + "|".join(_FUNCTIONS + _GREEK) + r"|pi)(?![A-Za-z])")
_SQRT_RE = re.compile(r"\\sqrt(?![A-Za-z])\s*|(?<![A-Za-z\\])sqrt(?![A-Za-z])\s*")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_SINGLE_ARG_RE = re.compile(r"\\([dt]?frac|sqrt)\s*(?=[0-9A-Za-z{])")
_POWER_PAREN_RE = re.compile(r"\^\s*\(")
_PRODUCT_BEFORE_PAREN_RE = re.compile(r"((?<![_^\w.])\d+(?:\.\d+)?|\)|\\pi)\s*(?=\()")
_PRODUCT_AFTER_PAREN_RE = re.compile(r"\)\s*(?=\d)")
_WRAPPED_TEXT_RE = re.compile(r"\\(?:text|textrm|mathrm|mbox|operatorname|textbf|mathbf)\s*\{[^{}]*\}")
_TEXT_CONTENT_RE = re.compile(r"\\(?:text|textrm|textbf|textit|mbox|mathrm)\s*\{([^{}]*)\}")
_TEXT_WORD_RE = re.compile(r"(?<![A-Za-z])(?!(?:and|or)(?![A-Za-z]))[A-Za-z]{2,}")
_LETTER_RUN_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_SPACED_NUMBERS_RE = re.compile(r"\d\s+\.?\d")
_NUMBER_BEFORE_FRAC_RE = re.compile(r"(?<![\^_\d.])\d+(?:\.\d+)?\s*\\frac\s*\{\s*[\d.]+\s*\}\s*\{\s*[\d.]+\s*\}")


@lru_cache(maxsize=8192)
def math_text(text: str) -> str | None:
    """The canonical LaTeX of one math answer (no delimiters, units or ``%``), or None when the
    parser would read only part of it (see the module docstring)."""
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], text)
    s = _THOUSANDS_RE.sub("", s)
    s = _DROP_RE.sub("", s)
    s = _SPACING_RE.sub(" ", s).replace("**", "^")
    if "'" in s or '"' in s:
        return None
    s = _EULER_RE.sub(r"\1", s)
    s = _sqrt_commands(s)
    if s is None:
        return None
    s = _PLAIN_FUNCTION_RE.sub(r"\\\1 ", s)
    s = _single_arguments(s)
    s = _power_groups(s)
    if s is None:
        return None
    s = _PRODUCT_BEFORE_PAREN_RE.sub(r"\1\\cdot ", s)
    s = _PRODUCT_AFTER_PAREN_RE.sub(r")\\cdot ", s)
    s = " ".join(s.split())
    if _SPACED_NUMBERS_RE.search(s) or _NUMBER_BEFORE_FRAC_RE.search(s) or _words(s):
        return None
    return s or None


def _matching(s: str, open_at: int, left: str, right: str) -> int | None:
    """The index of the bracket closing the one at ``open_at``, or None."""
    depth = 0
    for i in range(open_at, len(s)):
        if s[i] == left:
            depth += 1
        elif s[i] == right:
            depth -= 1
            if depth == 0:
                return i
    return None


def _sqrt_commands(s: str) -> str | None:
    """``sqrt(x)``, ``\\sqrt(x)``, ``sqrt{x}``, ``sqrt 3``, ``\\sqrt 3`` -> ``\\sqrt{...}``; None for an unclosed ``(``."""
    out, pos = [], 0
    for m in _SQRT_RE.finditer(s):
        if m.start() < pos:
            continue
        out.append(s[pos:m.start()])
        i = m.end()
        if i < len(s) and s[i] == "(":
            end = _matching(s, i, "(", ")")
            if end is None:
                return None
            out.append("\\sqrt{" + s[i + 1:end] + "}")
            pos = end + 1
            continue
        digits = _NUMBER_RE.match(s, i)
        if digits and not m.group().startswith("\\"):  # plain ``sqrt 12`` is sqrt(12); ``\\sqrt12`` is LaTeX's sqrt(1)2
            out.append("\\sqrt{" + digits.group() + "}")
            pos = digits.end()
            continue
        out.append("\\sqrt")
        pos = i
    out.append(s[pos:])
    return "".join(out)


def _single_arguments(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{2}``, ``\\sqrt3`` -> ``\\sqrt{3}``: one character per unbraced argument."""
    out, pos = [], 0
    for m in _SINGLE_ARG_RE.finditer(s):
        if m.start() < pos:
            continue
        out.append(s[pos:m.end()])
        i = m.end()
        for _ in range(2 if m.group(1).endswith("frac") else 1):
            if i < len(s) and s[i] == "{":
                end = _matching(s, i, "{", "}")
                if end is None:
                    break
                out.append("{" + _single_arguments(s[i + 1:end]) + "}")
                i = end + 1
            elif i < len(s) and s[i].isalnum():
                out.append("{" + s[i] + "}")
                i += 1
            i_space = i
            while i_space < len(s) and s[i_space] == " ":
                i_space += 1
            i = i_space
        pos = i
    out.append(s[pos:])
    return "".join(out)


def _power_groups(s: str) -> str | None:
    """``x^(1/2)`` -> ``x^{1/2}``; None for an unclosed ``(``."""
    while True:
        m = _POWER_PAREN_RE.search(s)
        if not m:
            return s
        end = _matching(s, m.end() - 1, "(", ")")
        if end is None:
            return None
        s = s[:m.start()] + "^{" + s[m.end():end] + "}" + s[end + 1:]


def _words(s: str) -> bool:
    """Words the grammar would read as a product of letters or as one symbol: a ``\\text{}`` of
    words inside the math (``n \\text{ is } 34``), or a letter run outside it that is a function
    name with more letters (``sinx``, ``xsqrt``; a bare name became a command), four letters or
    more (``largest``), or a short English word (``is``, ``the``)."""
    if any(_TEXT_WORD_RE.search(m.group(1)) for m in _TEXT_CONTENT_RE.finditer(s)):
        return True
    for run in _LETTER_RUN_RE.finditer(_WRAPPED_TEXT_RE.sub(" ", s)):
        word = run.group()
        if len(word) >= 4 or word.lower() in _PROSE_WORDS or any(name in word for name in (*_FUNCTIONS, "sqrt")):
            return True
    return False
