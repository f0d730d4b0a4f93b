"""Fingerprints for near-duplicate search: MinHash band hashes, shingle set, image hashes, guards.

Signatures are datasketch ``MinHash`` objects over hashed shingles of the normalized question
(choices are left out: the same question on the same picture with the same answer value is the same
problem whatever its distractors, and the answer value is compared separately); the LSH bands and
rows are those datasketch's ``MinHashLSH`` picks for the configured threshold, but bands become Beam
keys instead of entries of an in-memory index. The question's normalized numbers and terms and the
normalized option texts ride along for the guards. The shingle hashes are packed (see
:attr:`Fingerprint.shingles`): a fingerprint is shuffled to every group it joins (``hamming + 1``
by default), and on a runner that pickles between steps each copy is an object of its own.

datasketch is imported where it is used, on the workers: importing it (scipy with it) costs the
launcher, which only builds the graph, 35 MB.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from schemas.problem import Problem
from transforms.dedup.components import Node
from transforms.dedup.images import phash_int
from transforms.dedup.quantities import canonical, numbers
from transforms.dedup.settings import NearTextSettings
from transforms.dedup.terms import terms
from transforms.dedup.text import pack_hashes, shingle_hashes, unpack_hashes


@dataclass(frozen=True)
class Fingerprint:
    """What near-duplicate search needs of a problem (no image bytes). ``shingles`` are the question's
    shingle hashes packed by :func:`~transforms.dedup.text.pack_hashes`, ``bands`` its LSH band hashes
    (:meth:`Fingerprinter.band_hashes`): packed, a fingerprint takes a fifth of the memory it took as
    a frozenset and a tuple of ints."""

    node: Node
    answer: str
    shingles: bytes
    bands: bytes
    phashes: tuple[int, ...]
    quantities: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()

    def shingle_set(self) -> frozenset[int]:
        """The question's shingle hashes as a set."""
        return unpack_hashes(self.shingles)

    def band_values(self) -> tuple[int, ...]:
        """The LSH band hashes as ints, in band order."""
        return tuple(np.frombuffer(self.bands, dtype=">u8").tolist())


def _identity(value: int) -> int:
    return value


def lsh_shape(settings: NearTextSettings) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH chooses for the threshold and weights."""
    from datasketch import MinHashLSH

    weight = settings.false_negative_weight
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm, weights=(1.0 - weight, weight))
    return lsh.b, lsh.r


def answer_value(problem: Problem) -> str:
    """The normalized answer (numbers too); for a multiple-choice letter, the text of the choice it names."""
    index = ord(problem.answer.strip().upper()[:1] or "?") - ord("A")
    if problem.answer_type == "multiple_choice" and 0 <= index < len(problem.choices):
        return canonical(problem.choices[index])
    return canonical(problem.answer)


class Fingerprinter:
    """Builds :class:`Fingerprint` s; one instance per worker reuses the MinHash permutations."""

    def __init__(self, settings: NearTextSettings):
        from datasketch import MinHash

        self._settings, self._minhash = settings, MinHash
        self._bands, self._rows = lsh_shape(settings)
        template = MinHash(num_perm=settings.num_perm, seed=settings.seed)
        self._permutations, self._scheme = template.permutations, template.scheme

    def band_hashes(self, hashed_shingles: frozenset[int]) -> bytes:
        """One 64-bit hash per LSH band of the MinHash signature of ``hashed_shingles``, 8 bytes each, concatenated."""
        minhash = self._minhash(num_perm=self._settings.num_perm, hashfunc=_identity, permutations=self._permutations,
                                scheme=self._scheme)
        minhash.update_batch(np.fromiter(sorted(hashed_shingles), dtype=np.uint64, count=len(hashed_shingles)))
        values = minhash.hashvalues
        r = self._rows
        return b"".join(hashlib.blake2b(values[i * r : (i + 1) * r].tobytes(), digest_size=8).digest()
                        for i in range(self._bands))

    def __call__(self, problem: Problem, node: Node) -> Fingerprint:
        s = self._settings
        hashed = shingle_hashes(problem.question, s.shingle, s.shingle_size)
        return Fingerprint(
            node=node,
            answer=answer_value(problem),
            shingles=pack_hashes(hashed),
            bands=self.band_hashes(hashed),
            phashes=tuple(sorted(phash_int(m) for m in problem.image_meta)),
            quantities=tuple(numbers(problem.question)),
            options=tuple(sorted(canonical(c) for c in problem.choices)),
            terms=terms(problem.question),
        )
