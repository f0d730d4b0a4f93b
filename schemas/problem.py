"""The normalized problem every stage after ``read`` works on."""
from __future__ import annotations

from dataclasses import dataclass, field

import datasets
import pyarrow as pa

ANSWER_TYPES = ("multiple_choice", "numeric", "expression", "free_form")
#: The one image marker a Problem's question carries per image, in image order (normalize makes it so).
IMAGE_MARKER = "<image>"


@dataclass
class ImageRef:
    """An image in the Hugging Face ``Image`` feature layout."""

    bytes: bytes | None
    path: str | None


@dataclass
class ImageMeta:
    """Facts about a normalized image: size after normalization, format, content hashes."""

    width: int
    height: int
    format: str
    sha256: str
    phash: str


@dataclass
class Problem:
    """An image-question problem after image validation and normalization.

    ``id`` is stable (source name + the source's own id); ``question`` holds exactly one
    :data:`IMAGE_MARKER` per image, at the image's place, in the order of ``images``; ``unit`` is the gold answer's unit
    (``""``: none given; the verifier compares quantities with it); ``metadata`` is a JSON string for
    source-specific facts (e.g. a generator's ``difficulty``), kept opaque to the stages.
    """

    id: str
    source: str
    split: str
    question: str
    answer: str
    answer_type: str
    images: list[ImageRef] = field(default_factory=list)
    image_meta: list[ImageMeta] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    subject: str = ""
    caption: str = ""
    unit: str = ""
    metadata: str = "{}"


_STR = datasets.Value("string")
_I32 = datasets.Value("int32")
PROBLEM_FEATURES = datasets.Features(
    {
        "id": _STR,
        "source": _STR,
        "split": _STR,
        "question": _STR,
        "answer": _STR,
        "answer_type": _STR,
        "images": datasets.List(datasets.Image()),
        "image_meta": datasets.List({"width": _I32, "height": _I32, "format": _STR, "sha256": _STR, "phash": _STR}),
        "choices": datasets.List(_STR),
        "subject": _STR,
        "caption": _STR,
        "unit": _STR,
        "metadata": _STR,
    }
)
"""Declared as Hugging Face ``Features`` like the other output sets, so ``problems/`` carries the ``huggingface``
schema metadata and ``datasets.load_dataset`` decodes its ``images`` as PIL."""
PROBLEM_SCHEMA: pa.Schema = PROBLEM_FEATURES.arrow_schema
