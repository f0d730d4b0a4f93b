"""The ``dedup:`` config section: exact and near-duplicate removal, decontamination, chains."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.settings import Settings


class NearTextSettings(Settings):
    """Near-duplicate questions by MinHash LSH over shingles, then a true Jaccard check.

    ``threshold`` is the Jaccard similarity of the normalized questions' shingle sets from which
    two problems are near-duplicates in text (0.3: two reworded words in a six-word question
    drop character 5-gram Jaccard to about 0.35; pictures, answers, numbers and options guard
    against templated text — raise it with ``images.mode`` ``text_only`` or ``either``). The
    LSH bands and rows come from datasketch's optimum for ``threshold`` and ``num_perm``,
    weighting false negatives by ``false_negative_weight`` (candidates are verified exactly, so
    a false positive costs only a comparison); in ``both`` mode they only split a group of more
    than ``max_group`` problems (see :mod:`transforms.dedup.candidates`), so no worker holds it
    whole.
    ``same_answer`` requires equal normalized answers: the same question on the same picture
    has the same answer, while templated near-misses (same text, a figure that differs only in
    its number labels, which a perceptual hash cannot see) usually do not. Answers coincide all
    the time in real data (option letters, yes/no, small integers), so two guards do not rely on
    them: ``same_quantities`` requires the same normalized numbers in the question (``1,000`` =
    ``1000``, ``0.50`` = ``1/2`` = ``\\frac{1}{2}`` = ``50%``; see
    :mod:`transforms.dedup.quantities`) — ``sequence`` (default) in the same order, which also
    tells "12 cm wide and 5 cm tall" from "5 cm wide and 12 cm tall", ``multiset`` in any order
    (forgives a rewording that reorders clauses), ``off``; ``same_options`` the same multiset
    of normalized option texts (any order: a copy may shuffle its options); ``same_terms`` the
    same classes of the terms a question turns on (area/perimeter, most/least, colours, shapes;
    see :mod:`transforms.dedup.terms`). ``max_rounds``
    bounds the survivor-resolution rounds (see :mod:`transforms.dedup.components`).
    """

    enabled: bool = True
    shingle: Literal["word", "char"] = "char"
    shingle_size: int = Field(default=5, ge=1)
    num_perm: int = Field(default=128, ge=16, le=1024)
    threshold: float = Field(default=0.3, gt=0.0, le=1.0)
    false_negative_weight: float = Field(default=0.9, gt=0.0, lt=1.0)
    seed: int = 1
    max_rounds: int = Field(default=8, ge=1, le=64)
    max_group: int = Field(default=1000, ge=2)
    same_answer: bool = True
    same_quantities: Literal["sequence", "multiset", "off"] = "sequence"
    same_options: bool = True
    same_terms: bool = True


class ImageMatchSettings(Settings):
    """Near-duplicate images: perceptual hashes within ``hamming`` bits (of 64).

    ``mode``: ``both`` (default) counts problems as near-duplicates only when text and images
    both match (many benchmarks ask several questions about one picture); ``either`` when
    text or images match; ``text_only`` ignores images.
    """

    hamming: int = Field(default=6, ge=0, le=31)
    mode: Literal["both", "either", "text_only"] = "both"


class BenchmarkSpec(Settings):
    """An evaluation set to decontaminate against: a JSONL or Parquet file (local or fsspec URL).

    ``image_column`` may hold Hugging Face Image structs ``{bytes, path}``, raw bytes, or a path
    relative to the file's folder; without it only question text is compared.
    """

    name: str
    path: str
    kind: Literal["jsonl", "parquet"] = "jsonl"
    question_column: str = "question"
    id_column: str = "id"
    image_column: str | None = None


class DecontamSettings(Settings):
    """Drop problems sharing a word ``ngram`` (open-r1 uses 8) or an image with a benchmark."""

    benchmarks: list[BenchmarkSpec] = []
    ngram: int = Field(default=8, ge=1)
    image_hamming: int = Field(default=4, ge=0, le=31)


class ChainDedupSettings(Settings):
    """Near-duplicate chains among one problem's samples (word shingles, true Jaccard)."""

    enabled: bool = False
    threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    shingle_size: int = Field(default=5, ge=1)


class DedupSettings(Settings):
    """Problem dedup (before any teacher call), decontamination, and optional chain dedup.

    ``near_text.enabled`` switches the whole near-duplicate pass (text and images) on or off.
    ``preferred_sources`` orders survivor choice: a problem from an earlier-listed source wins,
    then the smallest id; sources not listed come after all listed ones.
    """

    exact: bool = True
    near_text: NearTextSettings = NearTextSettings()
    images: ImageMatchSettings = ImageMatchSettings()
    preferred_sources: list[str] = []
    decontam: DecontamSettings = DecontamSettings()
    chains: ChainDedupSettings = ChainDedupSettings()

