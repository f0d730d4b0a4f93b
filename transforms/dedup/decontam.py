"""Benchmark decontamination: drop problems that share a word n-gram or an image with an eval set.

As in open-r1's decontamination, a problem is contaminated when its normalized question shares
a word ``ngram`` (default 8) with a benchmark question; a question shorter than ``ngram`` words
has no n-gram, so generic short questions ("What is the value of x?") never match on text
alone (open-r1 does the same) — only through their images. A problem is also
contaminated when one of its images lies within ``image_hamming`` bits of a benchmark image
(perceptual hash). Benchmarks are small reference sets: each worker loads their index once in
``setup`` (like a model), the problems stream past it. Dropped rows have reason
``contaminated`` and name the benchmark and its item.
"""
from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from PIL import Image

from schemas.outputs import RejectRow
from schemas.problem import Problem
from schemas.stages import DEDUP
from transforms.dedup.images import hamming, hash_chunks, phash_int
from transforms.dedup.settings import BenchmarkSpec, DecontamSettings
from transforms.dedup.text import normalize_text, shingles
from transforms.failures import guarded
from transforms.images import perceptual_hash
from transforms.tags import DROPPED


@dataclass(frozen=True)
class BenchmarkItem:
    """One evaluation question: where it is from, its text, its images' perceptual hashes."""

    benchmark: str
    item_id: str
    question: str
    phashes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Contamination:
    """Why a problem is contaminated: the benchmark item and what matched."""

    item: BenchmarkItem
    evidence: str


def _rows(spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    with fsspec.open(spec.path, "rb") as fh:
        if spec.kind == "parquet":
            yield from pq.read_table(fh).to_pylist()
            return
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _image_bytes(value: Any, folder: str) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, str):
        with fsspec.open(value if "://" in value or value.startswith("/") else posixpath.join(folder, value), "rb") as fh:
            return fh.read()
    return value


def _phashes(value: Any, folder: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    images = [_image_bytes(v, folder) for v in values if v is not None]
    return tuple(int(perceptual_hash(Image.open(io.BytesIO(data)).convert("RGB")), 16) for data in images if data)


def word_ngrams(text: str, n: int) -> list[str]:
    """The distinct word ``n``-grams of normalized ``text`` (none when it has fewer than ``n`` words)."""
    return shingles(text, "word", n) if len(normalize_text(text).split()) >= n else []


def load_benchmark(spec: BenchmarkSpec) -> list[BenchmarkItem]:
    """A benchmark file's questions (and images, when ``image_column`` is set)."""
    folder = posixpath.dirname(spec.path)
    return [
        BenchmarkItem(
            benchmark=spec.name,
            item_id=str(row.get(spec.id_column, index)),
            question=str(row.get(spec.question_column) or ""),
            phashes=_phashes(row.get(spec.image_column), folder) if spec.image_column else (),
        )
        for index, row in enumerate(_rows(spec))
    ]


class BenchmarkIndex:
    """N-grams and image-hash ranges of benchmark items, for matching one problem at a time."""

    def __init__(self, items: list[BenchmarkItem], ngram: int, image_hamming: int):
        self._ngram = ngram
        self._hamming = image_hamming
        self._by_ngram: dict[str, BenchmarkItem] = {}
        self._by_chunk: dict[tuple[int, int], list[tuple[int, BenchmarkItem]]] = {}
        for item in items:
            for gram in word_ngrams(item.question, ngram):
                self._by_ngram.setdefault(gram, item)
            for value in item.phashes:
                for chunk in hash_chunks(value, image_hamming):
                    self._by_chunk.setdefault(chunk, []).append((value, item))

    def match(self, problem: Problem) -> Contamination | None:
        """The first benchmark item the problem's question n-grams or images match, if any."""
        for gram in word_ngrams(problem.question, self._ngram):
            if gram in self._by_ngram:
                return Contamination(self._by_ngram[gram], f"shared {self._ngram}-gram {gram!r}")
        for meta in problem.image_meta:
            value = phash_int(meta)
            for chunk in hash_chunks(value, self._hamming):
                for other, item in self._by_chunk.get(chunk, ()):
                    if hamming(value, other) <= self._hamming:
                        return Contamination(item, f"image {meta.phash} within {hamming(value, other)} bits")
        return None


def contaminated_row(problem: Problem, found: Contamination) -> RejectRow:
    """The ``dropped`` row naming the benchmark, its item and the evidence."""
    item = found.item
    return RejectRow(row_id=problem.id, source=problem.source, stage=DEDUP.name, reason="contaminated",
                     detail=f"benchmark {item.benchmark} item {item.item_id}: {found.evidence}")


class _DecontamFn(beam.DoFn):
    def __init__(self, settings: DecontamSettings):
        self._settings = settings
        self._hits = Metrics.counter(DEDUP.name, "contaminated")

    def setup(self):
        s = self._settings
        items = [item for spec in s.benchmarks for item in load_benchmark(spec)]
        self._index = BenchmarkIndex(items, s.ngram, s.image_hamming)

    def process(self, problem: Problem):
        found = self._index.match(problem)
        if found is None:
            yield problem
            return
        self._hits.inc()
        yield beam.pvalue.TaggedOutput(DROPPED, contaminated_row(problem, found))


class Decontaminate(beam.PTransform):
    """Problems → clean problems (main) and dropped contaminated ones."""

    def __init__(self, settings: DecontamSettings):
        super().__init__()
        self._settings = settings

    def expand(self, problems):
        return problems | "Match" >> guarded(DEDUP.name, beam.ParDo(_DecontamFn(self._settings)).with_outputs(DROPPED, main="kept"))
