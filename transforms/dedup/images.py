"""Perceptual-hash matching: Hamming distance and pigeonhole band keys.

Two 64-bit hashes within ``t`` differing bits agree exactly on at least one of ``t + 1``
disjoint bit ranges (pigeonhole), so grouping by (range, bits in range) finds every pair within
``t`` bits without any worker holding all hashes.
"""
from __future__ import annotations

import itertools

from schemas.problem import ImageMeta

HASH_BITS = 64


def phash_int(meta: ImageMeta) -> int:
    """An image's perceptual hash as an integer."""
    return int(meta.phash, 16)


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return (a ^ b).bit_count()


def hash_chunks(value: int, max_distance: int) -> list[tuple[int, int]]:
    """``(range index, bits)`` for ``max_distance + 1`` disjoint bit ranges of a 64-bit hash."""
    parts = max_distance + 1
    bounds = [HASH_BITS * i // parts for i in range(parts + 1)]
    return [(i, (value >> lo) & ((1 << (hi - lo)) - 1)) for i, (lo, hi) in enumerate(itertools.pairwise(bounds))]


def images_match(a: tuple[int, ...], b: tuple[int, ...], max_distance: int) -> bool:
    """Whether two image lists pair up one to one within ``max_distance`` bits (two empty lists match)."""
    if len(a) != len(b):
        return False
    unused = list(b)
    for value in a:
        partner = next((u for u in unused if hamming(value, u) <= max_distance), None)
        if partner is None:
            return False
        unused.remove(partner)
    return True
