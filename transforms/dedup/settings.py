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

    enabled: bool = Field(default=True, description="Run the near-duplicate pass (text and images).")
    shingle: Literal["word", "char"] = Field(default="char", description="Shingle unit: char (character n-grams) or word.")
    shingle_size: int = Field(default=5, ge=1, description="Shingle length, in characters or words.")
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations (more: a closer similarity estimate, more work).")
    threshold: float = Field(
        default=0.3, gt=0.0, le=1.0,
        description="Jaccard similarity of two questions' shingle sets from which they are near-duplicates in text.",
    )
    false_negative_weight: float = Field(
        default=0.9, gt=0.0, lt=1.0,
        description="Weight of false negatives against false positives when LSH bands and rows are chosen for threshold (candidates are "
                    "verified exactly, so a false positive costs only a comparison).",
    )
    seed: int = Field(default=1, description="MinHash seed.")
    max_rounds: int = Field(default=8, ge=1, le=64, description="Most survivor-resolution rounds.")
    max_group: int = Field(
        default=1000, ge=2,
        description="An LSH bucket of more problems than this is split (images.mode both), so no worker holds it whole.",
    )
    same_answer: bool = Field(default=True, description="Near-duplicates must also have equal normalized answers.")
    same_quantities: Literal["sequence", "multiset", "off"] = Field(
        default="sequence",
        description="Near-duplicates must have the same normalized numbers in the question: sequence (in the same order), multiset (any "
                    "order), off.",
    )
    same_options: bool = Field(default=True, description="Near-duplicates must have the same multiset of normalized option texts.")
    same_terms: bool = Field(
        default=True,
        description="Near-duplicates must have the same classes of key terms (area/perimeter, most/least, colours, shapes).",
    )


class ImageMatchSettings(Settings):
    """Near-duplicate images: perceptual hashes within ``hamming`` bits (of 64).

    ``mode``: ``both`` (default) counts problems as near-duplicates only when text and images
    both match (many benchmarks ask several questions about one picture); ``either`` when
    text or images match; ``text_only`` ignores images.
    """

    hamming: int = Field(
        default=6, ge=0, le=31,
        description="Two images match when their 64-bit perceptual hashes differ in at most this many bits.",
    )
    mode: Literal["both", "either", "text_only"] = Field(
        default="both",
        description="both: near-duplicates need text and images to match; either: text or images; text_only: images are ignored.",
    )


class BenchmarkSpec(Settings):
    """An evaluation set to decontaminate against: a JSONL or Parquet file (local or fsspec URL).

    ``image_column`` may hold Hugging Face Image structs ``{bytes, path}``, raw bytes, or a path
    relative to the file's folder; without it only question text is compared.
    """

    name: str = Field(description="The benchmark's name, reported with the problems it contaminates.")
    path: str = Field(description="A JSONL or Parquet file, local or an fsspec URL.")
    kind: Literal["jsonl", "parquet"] = Field(default="jsonl", description="File format: jsonl or parquet.")
    question_column: str = Field(default="question", description="Column holding the question text.")
    id_column: str = Field(default="id", description="Column holding the benchmark item's id.")
    image_column: str | None = Field(
        default=None,
        description="Column holding images (HF Image structs {bytes, path}, raw bytes, or a path relative to the file's folder); null: "
                    "question text only.",
    )


class DecontamSettings(Settings):
    """Drop problems sharing a word ``ngram`` (open-r1 uses 8) or an image with a benchmark."""

    benchmarks: list[BenchmarkSpec] = Field(default=[], description="Evaluation sets to decontaminate against.")
    ngram: int = Field(
        default=8, ge=1,
        description="Drop a problem that shares a word n-gram of this length with a benchmark question (open-r1 uses 8).",
    )
    image_hamming: int = Field(
        default=4, ge=0, le=31,
        description="Drop a problem with an image within this many bits (of 64) of a benchmark image's perceptual hash.",
    )


class ChainDedupSettings(Settings):
    """Near-duplicate chains among one problem's samples (word shingles, true Jaccard)."""

    enabled: bool = Field(default=False, description="Drop near-duplicate chains among one problem's samples.")
    threshold: float = Field(
        default=0.9, gt=0.0, le=1.0,
        description="Jaccard similarity of two chains' word shingle sets from which they are near-duplicates.",
    )
    shingle_size: int = Field(default=5, ge=1, description="Shingle length, in words.")


class DedupSettings(Settings):
    """Problem dedup (before any teacher call), decontamination, and optional chain dedup.

    ``near_text.enabled`` switches the whole near-duplicate pass (text and images) on or off.
    ``preferred_sources`` orders survivor choice: a problem from an earlier-listed source wins,
    then the smallest id; sources not listed come after all listed ones.
    """

    exact: bool = Field(
        default=True,
        description="Drop exact duplicates: equal normalized question, numbers and choices, and the same image pixel hashes.",
    )
    near_text: NearTextSettings = Field(
        default=NearTextSettings(),
        description="Near-duplicate questions (MinHash LSH, then true Jaccard); its enabled switches the whole near-duplicate pass.",
    )
    images: ImageMatchSettings = Field(
        default=ImageMatchSettings(),
        description="Near-duplicate images (perceptual hashes), and how image matches combine with text matches.",
    )
    preferred_sources: list[str] = Field(
        default=[],
        description="Source names in order of preference for a duplicate group's survivor (earlier wins, then the smallest id; unlisted "
                    "sources come after listed ones).",
    )
    decontam: DecontamSettings = Field(
        default=DecontamSettings(),
        description="Drop problems that share text or an image with an evaluation benchmark.",
    )
    chains: ChainDedupSettings = Field(default=ChainDedupSettings(), description="Near-duplicate chains among one problem's samples.")

