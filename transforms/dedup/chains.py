"""Near-duplicate chains among one problem's verified samples (optional, off by default).

Two chains are near-duplicates when they extracted the same answer and the Jaccard similarity
of their word-shingle sets (reasoning + answer text, normalized) reaches the threshold; with k
chains per problem the k² exact comparisons are cheaper than any sketch. In sample order, a
chain that duplicates an earlier unmarked chain gets ``duplicate_of`` = that chain's sample
index. Marked chains stay in ``generations/`` and in the pass rate (the teacher did produce
them; the pass rate is a difficulty signal, not a count of distinct chains), and selection
never picks them.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import Generation, ProblemChains
from schemas.stages import CHAIN_DEDUP
from transforms.dedup.settings import ChainDedupSettings
from transforms.dedup.text import jaccard, shingle_hashes
from transforms.failures import guarded


def duplicate_chains(generations: list[Generation], settings: ChainDedupSettings) -> dict[int, int]:
    """``sample_index`` of each duplicate chain → ``sample_index`` of the earlier chain it duplicates."""
    kept: list[tuple[Generation, frozenset[int]]] = []
    duplicates: dict[int, int] = {}
    for gen in sorted(generations, key=lambda g: g.sample_index):
        answer = gen.verdict.extracted_answer if gen.verdict else None
        hashed = shingle_hashes(f"{gen.reasoning}\n{gen.answer_text}", "word", settings.shingle_size)
        original = next((k for k, h in kept if (k.verdict.extracted_answer if k.verdict else None) == answer
                         and jaccard(hashed, h) >= settings.threshold), None)
        if original is None:
            kept.append((gen, hashed))
        else:
            duplicates[gen.sample_index] = original.sample_index
    return duplicates


class _MarkFn(beam.DoFn):
    def __init__(self, settings: ChainDedupSettings):
        self._settings = settings
        self._marked = Metrics.counter(CHAIN_DEDUP.name, "duplicate_chains")

    def process(self, chains: ProblemChains):
        marks = duplicate_chains(chains.generations, self._settings)
        self._marked.inc(len(marks))
        yield dataclasses.replace(chains, generations=[
            dataclasses.replace(g, duplicate_of=marks.get(g.sample_index)) for g in chains.generations
        ])


class MarkDuplicateChains(beam.PTransform):
    """Verified ProblemChains → the same, near-duplicate chains marked with ``duplicate_of``."""

    def __init__(self, settings: ChainDedupSettings):
        super().__init__()
        self._settings = settings

    def expand(self, chains):
        return chains | "MarkDuplicates" >> guarded(CHAIN_DEDUP.name, beam.ParDo(_MarkFn(self._settings)))
