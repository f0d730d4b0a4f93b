"""Text normalization and shingling shared by exact, near-duplicate and contamination checks."""
from __future__ import annotations

import re
import unicodedata
from typing import Literal

import numpy as np

_LATEX_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b")
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case-folded text without LaTeX spacing commands, punctuation or repeated whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _LATEX_SPACING.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def shingles(text: str, kind: Literal["word", "char"], size: int) -> list[str]:
    """The distinct word or character ``size``-grams of normalized ``text`` (the whole text if shorter)."""
    norm = normalize_text(text)
    units: list[str] | str = norm.split() if kind == "word" else norm
    sep = " " if kind == "word" else ""
    if len(units) <= size:
        return [sep.join(units)] if units else []
    return sorted({sep.join(units[i : i + size]) for i in range(len(units) - size + 1)})


def shingle_hashes(text: str, kind: Literal["word", "char"], size: int) -> frozenset[int]:
    """32-bit hashes of :func:`shingles` (datasketch's sha1_hash32), the sets compared by Jaccard."""
    from datasketch.hashfunc import sha1_hash32  # here, on the workers: the launcher need not import datasketch

    return frozenset(sha1_hash32(s.encode()) for s in shingles(text, kind, size))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def pack_hashes(hashes: frozenset[int]) -> bytes:
    """The 32-bit hashes sorted and packed (4 bytes each; a frozenset of them takes ~30 times that in memory)."""
    return np.fromiter(sorted(hashes), dtype=np.uint32, count=len(hashes)).tobytes()


def unpack_hashes(packed: bytes) -> frozenset[int]:
    """The set :func:`pack_hashes` packed."""
    return frozenset(np.frombuffer(packed, dtype=np.uint32).tolist())
