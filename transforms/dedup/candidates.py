"""Candidate pairs inside one group, and the exact check that turns them into edges.

Which groups a fingerprint joins depends on ``images.mode``; the answer value is part of every
key when near-duplicates must share it (``same_answer``), which splits templated questions by
their answers at no cost in recall:

* ``both`` (default): one group per image-hash range (key ``("i", range, bits, answer)``;
  imageless problems share one ``NO_IMAGE`` key). Two pictures within ``hamming`` bits agree on
  at least one range (pigeonhole), so every pair whose images match meets in some group and is
  checked exactly — the text test is the true Jaccard, not an LSH estimate — and each problem
  is sent to ``hamming + 1`` groups only. A group of more than ``max_group`` members (counted
  first, per key: one picture behind many questions, or many imageless problems) is split into
  one sub-group per MinHash text band, so no worker holds it whole; there the LSH bands decide
  which pairs are compared.
* ``text_only``: one group per text band (key ``("t", band, hash, answer)``).
* ``either``: both kinds of keys (imageless problems join text groups only).

A pair sharing several groups is checked only in the first one they share, so each pair is
verified once. Every verified pair is an edge (none is implied by others: survivors are
resolved from the verified edges themselves, see :mod:`transforms.dedup.components`); a pair
that matches in text, images and answer but fails the quantities, options or terms guard is reported
as blocked by that guard, so the guard's effect can be counted.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

from transforms.dedup.components import Node
from transforms.dedup.images import hash_chunks, images_match
from transforms.dedup.minhash import Fingerprint
from transforms.dedup.settings import ImageMatchSettings, NearTextSettings
from transforms.dedup.text import jaccard

BandKey = tuple[str, int, int, str]
SubKey = tuple[int, int]
GroupKey = tuple[BandKey, SubKey | None]
Edge = tuple[Node, Node]
NO_IMAGE: SubKey = (-1, 0)


def image_keys(fp: Fingerprint, max_distance: int) -> set[SubKey]:
    """The ``(range, bits)`` pigeonhole keys of all of a problem's images."""
    return {chunk for value in fp.phashes for chunk in hash_chunks(value, max_distance)}


def text_keys(fp: Fingerprint) -> set[SubKey]:
    """The ``(band, hash)`` LSH keys of a problem's question."""
    return set(enumerate(fp.band_values()))


def _scope(fp: Fingerprint, text: NearTextSettings) -> str:
    return fp.answer if text.same_answer else ""


def _keys(fp: Fingerprint, images: ImageMatchSettings) -> list[tuple[str, SubKey]]:
    if images.mode == "both":
        return [("i", k) for k in sorted(image_keys(fp, images.hamming) or {NO_IMAGE})]
    keys = [("t", k) for k in sorted(text_keys(fp))]
    if images.mode == "either":
        keys += [("i", k) for k in sorted(image_keys(fp, images.hamming))]
    return keys


def band_keys(fp: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> list[BandKey]:
    """The group keys a fingerprint is sent to."""
    scope = _scope(fp, text)
    return [(kind, pos, bits, scope) for kind, (pos, bits) in _keys(fp, images)]


def _splits(key: BandKey, hot: Mapping[BandKey, int], images: ImageMatchSettings) -> bool:
    return key in hot and key[0] == "i" and images.mode == "both"


def group_keys(key: BandKey, fp: Fingerprint, hot: Mapping[BandKey, int], images: ImageMatchSettings) -> list[GroupKey]:
    """The groups a fingerprint joins for ``key``: the group, or in ``both`` mode, for a group too
    large for one worker (``hot``), one sub-group per text band."""
    if _splits(key, hot, images):
        return [(key, sub) for sub in sorted(text_keys(fp))]
    return [(key, None)]


def blocking_guard(a: Fingerprint, b: Fingerprint, text: NearTextSettings) -> str | None:
    """``"quantities"``, ``"options"`` or ``"terms"`` when that guard (if on) tells the two apart, else ``None``."""
    mode = text.same_quantities
    if mode == "sequence" and a.quantities != b.quantities:
        return "quantities"
    if mode == "multiset" and sorted(a.quantities) != sorted(b.quantities):
        return "quantities"
    if text.same_options and a.options != b.options:
        return "options"
    if text.same_terms and a.terms != b.terms:
        return "terms"
    return None


def similar(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings,
            shingle_sets: tuple[frozenset[int], frozenset[int]] | None = None) -> bool:
    """The check before the guards: true Jaccard of the shingle sets, image Hamming distances, answers, per the mode.

    ``shingle_sets``: the two fingerprints' shingle sets, when the caller has unpacked them already."""
    if text.same_answer and a.answer != b.answer:
        return False
    set_a, set_b = shingle_sets or (a.shingle_set(), b.shingle_set())
    text_ok = jaccard(set_a, set_b) >= text.threshold
    if images.mode == "text_only":
        return text_ok
    image_ok = images_match(a.phashes, b.phashes, images.hamming)
    if images.mode == "both":
        return text_ok and image_ok
    return text_ok or (image_ok and bool(a.phashes))


def is_near_duplicate(a: Fingerprint, b: Fingerprint, text: NearTextSettings, images: ImageMatchSettings) -> bool:
    """The whole check: :func:`similar` and no :func:`blocking_guard`."""
    return blocking_guard(a, b, text) is None and similar(a, b, text, images)


def _first_shared_group(a: tuple[str, set, set], b: tuple[str, set, set], hot: Mapping[BandKey, int],
                        images: ImageMatchSettings) -> GroupKey | None:
    """The group where a pair is checked, from each side's ``(scope, group keys, text keys)``."""
    (scope, keys_a, text_a), (scope_b, keys_b, text_b) = a, b
    shared = keys_a & keys_b if scope == scope_b else None
    if not shared:
        return None
    kind, (pos, bits) = min(shared)
    key = (kind, pos, bits, scope)
    if not _splits(key, hot, images):
        return key, None
    subs = text_a & text_b
    return (key, min(subs)) if subs else None


def group_edges(group: GroupKey, members: list[Fingerprint], text: NearTextSettings, images: ImageMatchSettings,
                hot: Mapping[BandKey, int]) -> tuple[list[Edge], list[tuple[Edge, str]]]:
    """Verified near-duplicate edges ``(smaller, larger)`` of one (sub-)group, and the pairs a guard blocked."""
    members = sorted(members, key=lambda fp: fp.node)
    keys = [(_scope(fp, text), set(_keys(fp, images)), text_keys(fp)) for fp in members]
    sets = [fp.shingle_set() for fp in members]  # unpacked once per member, not once per pair
    verified: list[Edge] = []
    blocked: list[tuple[Edge, str]] = []
    for (ka, sa, a), (kb, sb, b) in combinations(zip(keys, sets, members), 2):
        if _first_shared_group(ka, kb, hot, images) != group or not similar(a, b, text, images, (sa, sb)):
            continue
        guard = blocking_guard(a, b, text)
        if guard is None:
            verified.append((a.node, b.node))
        else:
            blocked.append(((a.node, b.node), guard))
    return verified, blocked
