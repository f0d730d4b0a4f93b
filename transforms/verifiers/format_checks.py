"""Format checks on one output. Each returns ``(passed, reason_if_failed)``.

All measures are linear passes done in C where possible (regex ``findall``, ``set``, ``zip``),
so a long chain costs well under a millisecond per kilobyte.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.segments import Segments

CheckResult = tuple[bool, str]

# ---------------------------------------------------------------- reasoning block


def single_reasoning_block(segments: Segments, config: VerifyConfig) -> CheckResult:
    """Exactly one well-formed reasoning block (``<think>…</think>`` or a reasoning field).
    A missing block fails only when ``require_reasoning``."""
    if not segments.well_formed:
        return False, "malformed_think"
    if segments.reasoning is None and config.require_reasoning:
        return False, "no_reasoning"
    return True, ""


def reasoning_nonempty(segments: Segments, config: VerifyConfig) -> CheckResult:
    text = segments.reasoning or ""
    if len(text.strip()) < config.min_reasoning_chars:
        return False, "empty_reasoning"
    return True, ""


# ---------------------------------------------------------------- truncation / length


def not_truncated(finish_reason: str | None) -> CheckResult:
    """The server stopped for the token limit (``finish_reason == "length"``)."""
    if (finish_reason or "").strip().lower() == "length":
        return False, "truncated"
    return True, ""


def length_ok(n_chars: int, config: VerifyConfig) -> CheckResult:
    if n_chars < config.min_chars:
        return False, "too_short"
    if n_chars > config.max_chars:
        return False, "too_long"
    return True, ""


# ---------------------------------------------------------------- repetition

_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+|\S")
#: Above this many characters per whitespace token the text is not space-separated (Chinese).
_MAX_CHARS_PER_WORD = 12


def tokens_of(text: str) -> list[str]:
    """Whitespace words for space-separated text (fast, C-level ``split``); for text written
    without spaces (Chinese) ASCII words/numbers and single other characters."""
    words = text.split()
    if len(words) * _MAX_CHARS_PER_WORD >= len(text):
        return words
    return _TOKEN_RE.findall(text)


def repeated_ngram_share(text: str, n: int) -> float:
    """Share of token n-grams that repeat an earlier one (``1 - unique / total``); 0 when the
    text has fewer than ``4 * n`` tokens. Tokens: see :func:`tokens_of`, so Chinese text is
    measured per character."""
    return _exact_share(tokens_of(text), n)


def _exact_share(tokens: list[str], n: int) -> float:
    total = len(tokens) - n + 1
    if len(tokens) < 4 * n or total <= 0:
        return 0.0
    unique = len(set(zip(*(tokens[i:] for i in range(n)))))
    return 1.0 - unique / total


_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2**64
_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


def _powers_upto(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``B**j`` and ``B**-j`` modulo 2**64 for ``j < size`` (grown on demand, kept)."""
    global _powers, _inverse_powers
    if len(_powers) < size:
        size = max(size, 2 * len(_powers))
        inverse = pow(int(_HASH_BASE), -1, 2 ** 64)
        with np.errstate(over="ignore"):
            _powers = np.concatenate(([np.uint64(1)], np.cumprod(np.full(size - 1, _HASH_BASE, dtype=np.uint64))))
            _inverse_powers = np.concatenate(
                ([np.uint64(1)], np.cumprod(np.full(size - 1, np.uint64(inverse), dtype=np.uint64))))
    return _powers, _inverse_powers


def _ascii_word_hashes(text: str) -> np.ndarray | None:
    """One 64-bit hash per ``text.split()`` word of an ASCII text, without making the words
    (a polynomial hash of the bytes through a prefix sum); None when the text is not ASCII or
    :func:`tokens_of` would not split it on whitespace."""
    if not text.isascii():
        return None
    data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    word = np.ones(len(data) + 2, dtype=bool)
    # str.split()'s ASCII whitespace: space, \t \n \v \f \r (9-13), \x1c-\x1f (28-31); uint8 wraps below 9 and 28
    np.logical_not((data == 32) | ((data - 9) <= 4) | ((data - 28) <= 3), out=word[1:-1])
    word[0] = word[-1] = False
    edges = np.flatnonzero(word[1:] != word[:-1])
    starts, ends = edges[0::2], edges[1::2]
    if len(starts) * _MAX_CHARS_PER_WORD < len(text):
        return None
    powers, inverse = _powers_upto(len(data) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(data.astype(np.uint64) * powers[:len(data)])))
        return (prefix[ends] - prefix[starts]) * inverse[starts]


def _share_upper_bound(hashes: np.ndarray, n: int) -> float:
    """At least the repeated n-gram share of the words these are the hashes of: n-grams counted
    by a 64-bit polynomial hash of the words' hashes, vectorized. A collision can only merge
    distinct n-grams (fewer unique, a higher share), never split equal ones, so a bound at or
    under a limit proves the exact share is."""
    total = len(hashes) - n + 1
    if len(hashes) < 4 * n or total <= 0:
        return 0.0
    grams = hashes[:total].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):  # uint64 arithmetic wraps around (mod 2**64), which is what a hash wants
            grams *= _HASH_BASE
            grams += hashes[k:k + total]
    grams.sort()
    unique = 1 + int(np.count_nonzero(grams[1:] != grams[:-1]))
    return 1.0 - unique / total


def ngram_share_above(text: str, n: int, limit: float) -> bool:
    """Whether :func:`repeated_ngram_share` exceeds ``limit``: the exact count only when the
    cheap upper bound (:func:`_share_upper_bound`, several times faster on 8 KB) does not settle it."""
    hashes = _ascii_word_hashes(text)
    if hashes is None:
        tokens = tokens_of(text)
        hashes = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)
    if _share_upper_bound(hashes, n) <= limit:
        return False
    return repeated_ngram_share(text, n) > limit


def repeated_line_share(text: str, min_line_chars: int, min_lines: int) -> float:
    """Share of lines (stripped, at least ``min_line_chars`` long) that repeat an earlier line;
    0 when fewer than ``min_lines`` such lines."""
    lines = [line for line in (raw.strip() for raw in text.splitlines()) if len(line) >= min_line_chars]
    if len(lines) < min_lines:
        return 0.0
    return 1.0 - len(set(lines)) / len(lines)


def no_repetition(text: str, config: VerifyConfig) -> CheckResult:
    if repeated_line_share(text, config.min_line_chars, config.min_lines) > config.max_repeated_line_share:
        return False, "repetition"
    if ngram_share_above(text, config.ngram_size, config.max_repeated_ngram_share):
        return False, "repetition"
    return True, ""


# ---------------------------------------------------------------- language / script

_SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "common": (
        (0x0000, 0x0040), (0x005B, 0x0060), (0x007B, 0x00BF), (0x00D7, 0x00D7), (0x00F7, 0x00F7),
        (0x02B0, 0x036F),  # spacing modifiers, combining marks
        (0x2000, 0x206F),  # general punctuation
        (0x20A0, 0x20CF),  # currency
        (0x2190, 0x21FF),  # arrows
        (0x2460, 0x24FF),  # enclosed alphanumerics
        (0x2500, 0x27BF),  # box drawing, blocks, geometric shapes, misc symbols, dingbats
        (0xFE00, 0xFE0F),  # variation selectors
    ),
    "latin": ((0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x00D6), (0x00D8, 0x00F6),
              (0x00F8, 0x024F), (0x1E00, 0x1EFF)),
    "greek": ((0x0370, 0x03FF), (0x1F00, 0x1FFF)),
    "math": ((0x2070, 0x209F), (0x2100, 0x214F), (0x2150, 0x218F), (0x2200, 0x22FF),
             (0x2300, 0x23FF), (0x27C0, 0x27EF), (0x2980, 0x2AFF), (0x1D400, 0x1D7FF)),
    "cjk": ((0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3200, 0x33FF), (0x3400, 0x4DBF),
            (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
            (0x20000, 0x2FA1F)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF)),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "cyrillic": ((0x0400, 0x052F),),
    "arabic": ((0x0600, 0x06FF), (0x0750, 0x077F)),
    "devanagari": ((0x0900, 0x097F),),
}


@lru_cache(maxsize=32)
def _foreign_re(scripts: tuple[str, ...]) -> re.Pattern:
    parts = []
    for name in scripts:
        for lo, hi in _SCRIPT_RANGES[name]:
            parts.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
    # whitespace is never foreign
    return re.compile("[^\\s" + "".join(parts) + "]+")


_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]+")


def foreign_char_share(text: str, scripts: tuple[str, ...]) -> float:
    """Share of non-whitespace characters outside ``scripts``."""
    if "common" in scripts and "latin" in scripts:
        # ASCII is all common + Latin: only the (usually few) non-ASCII runs need the full test.
        if text.isascii():
            return 0.0
        candidates = "".join(_NON_ASCII_RE.findall(text))
    else:
        candidates = text
    foreign = sum(map(len, _foreign_re(scripts).findall(candidates)))
    if not foreign:
        return 0.0
    visible = len("".join(text.split()))
    return foreign / max(visible, 1)


def language_consistent(text: str, config: VerifyConfig) -> CheckResult:
    if foreign_char_share(text, config.allowed_scripts) > config.max_foreign_char_share:
        return False, "language_mix"
    return True, ""
