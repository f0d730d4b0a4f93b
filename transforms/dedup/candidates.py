"""Candidate pairs inside one band group, and the exact check that turns them into edges.

A fingerprint is emitted once per text band (key ``("t", band, hash, answer)``) and, in
``either`` mode, once per image-hash range (key ``("i", range, bits, answer)``); the answer
value is part of the key when near-duplicates must share it (``same_answer``), which splits
templated questions by their answers at no cost in recall. A pair sharing several keys is
checked only in the group of the first key they share, so each pair is verified once. In
``both`` mode pairs in a text group must also share an image-hash range (both-imageless
pairs count as sharing), which keeps templated questions — identical text over different
pictures — from making a group quadratic. A band group with more than ``max_group`` members
(counted first, per key) is split in ``both`` mode into one sub-group per image-hash range, so
no worker has to hold it whole.

Every verified pair is an edge (none is implied by others: survivors are resolved from the
verified edges themselves, see :mod:`transforms.dedup.components`); a pair that matches in
text, images and answer but fails the quantities or options guard is reported as blocked by
that guard, so the guard's effect can be counted.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Iterator, Mapping

from transforms.dedup.components import Node
from transforms.dedup.images import hash_chunks, images_match
from transforms.dedup.minhash import Fingerprint
from transforms.dedup.settings import ImageMatchSettings, NearTextSettings
from transforms.dedup.text import jaccard

BandKey = tuple[str, int, int, str]
SubKey = tuple[int, int]
GroupKey = tuple[BandKey, SubKey | None]
NO_IMAGE: SubKey = (-1, 0)


def image_keys(fp: Fingerprint, max_distance: int) -> set[SubKey]:
    """The ``(range, bits)`` pigeonhole keys of all of a problem's images."""
    return {chunk for value in fp.phashes for chunk in hash_chunks(value, max_distance)}


def _sub_keys(fp: Fingerprint, images: ImageMatchSettings) -> set[SubKey]:
    return image_keys(fp, images.hamming) or {NO_IMAGE}


def _splits(key: BandKey, hot: Mapping[BandKey, int], images: ImageMatchSettings) -> bool:
    return key in hot and key[0] == "t" and images.mode == "both"


def group_keys(key: BandKey, fp: Fingerprint, hot: Mapping[BandKey, int], images: ImageMatchSettings) -> list[GroupKey]:
    """The groups a fingerprint joins for ``key``: the band group, or in ``both`` mode, for a band
    group too large for one worker (``hot``), one sub-group per image-hash range."""
    if _splits(key, hot, images):
        return [(key, sub) for sub in sorted(_sub_keys(fp, images))]
    return [(key, None)]


def _scope(fp: Fingerprint, text: NearTextSettings) -> str:
    return fp.answer if text.same_answer else ""


def band_keys(fp: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> list[BandKey]:
    """The group keys a fingerprint is sent to."""
    scope = _scope(fp, text)
    keys = [("t", i, h, scope) for i, h in enumerate(fp.bands)]
    if images.mode == "either":
        keys += [("i", pos, bits, scope) for pos, bits in sorted(image_keys(fp, images.hamming))]
    return keys


def blocking_guard(a: Fingerprint, b: Fingerprint, text: NearTextSettings) -> str | None:
    """``"quantities"`` or ``"options"`` when that guard (if on) tells the two apart, else ``None``."""
    mode = text.same_quantities
    if mode == "sequence" and a.quantities != b.quantities or mode == "multiset" and sorted(a.quantities) != sorted(b.quantities):
        return "quantities"
    if text.same_options and a.options != b.options:
        return "options"
    return None


def similar(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> bool:
    """The check before the guards: true Jaccard of the shingle sets, image Hamming distances, answers, per the mode."""
    if text.same_answer and a.answer != b.answer:
        return False
    text_ok = jaccard(a.shingles, b.shingles) >= text.threshold
    if images.mode == "text_only":
        return text_ok
    image_ok = images_match(a.phashes, b.phashes, images.hamming)
    if images.mode == "both":
        return text_ok and image_ok
    return text_ok or (image_ok and bool(a.phashes))


def is_near_duplicate(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> bool:
    """The whole check: :func:`similar` and no :func:`blocking_guard`."""
    return blocking_guard(a, b, text) is None and similar(a, b, text, images)


def _first_shared_band(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> BandKey | None:
    scope = _scope(a, text)
    if scope != _scope(b, text):
        return None
    for i, (x, y) in enumerate(zip(a.bands, b.bands)):
        if x == y:
            return ("t", i, x, scope)
    if images.mode == "either":
        shared = image_keys(a, images.hamming) & image_keys(b, images.hamming)
        if shared:
            return ("i", *min(shared), scope)
    return None


def _first_shared_group(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings,
                        hot: Mapping[BandKey, int]) -> GroupKey | None:
    key = _first_shared_band(a, b, text, images)
    if key is None or not _splits(key, hot, images):
        return None if key is None else (key, None)
    shared = _sub_keys(a, images) & _sub_keys(b, images)
    return (key, min(shared)) if shared else None


def _buckets(key: BandKey, members: list[Fingerprint], images: ImageMatchSettings) -> Iterator[list[Fingerprint]]:
    if key[0] == "t" and images.mode == "both":
        by_image: dict[SubKey, list[Fingerprint]] = defaultdict(list)
        for fp in members:
            for sub in _sub_keys(fp, images):
                by_image[sub].append(fp)
        yield from by_image.values()
    else:
        yield members


Edge = tuple[Node, Node]


def group_edges(group: GroupKey, members: list[Fingerprint], text: NearTextSettings, images: ImageMatchSettings,
                hot: Mapping[BandKey, int]) -> tuple[list[Edge], list[tuple[Edge, str]]]:
    """Verified near-duplicate edges ``(smaller, larger)`` of one (sub-)group, and the pairs a guard blocked."""
    seen: set[Edge] = set()
    verified: list[Edge] = []
    blocked: list[tuple[Edge, str]] = []
    for bucket in _buckets(group[0], sorted(members, key=lambda fp: fp.node), images):
        for a, b in combinations(bucket, 2):
            pair = (a.node, b.node)
            if pair in seen:
                continue
            seen.add(pair)
            if _first_shared_group(a, b, text, images, hot) != group or not similar(a, b, text, images):
                continue
            guard = blocking_guard(a, b, text)
            if guard is None:
                verified.append(pair)
            else:
                blocked.append((pair, guard))
    return verified, blocked
