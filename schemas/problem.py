"""The normalized problem every stage after ``read`` works on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import pyarrow as pa

from schemas.derive import IMAGE, Int32, arrow_schema

ANSWER_TYPES = ("multiple_choice", "numeric", "expression", "free_form")
#: The one image marker a Problem's question carries per image, in image order (normalize makes it so).
IMAGE_MARKER = "<image>"


@dataclass
class ImageRef:
    """An image in the Hugging Face ``Image`` feature layout."""

    bytes: bytes | None
    path: str | None


Image = Annotated[ImageRef, IMAGE]
"""An image column: a :class:`ImageRef` that ``datasets`` decodes as PIL."""


@dataclass
class ImageMeta:
    """Facts about a normalized image: size after normalization, format, content hashes."""

    width: Int32
    height: Int32
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
    images: list[Image] = field(default_factory=list)
    image_meta: list[ImageMeta] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    subject: str = ""
    caption: str = ""
    unit: str = ""
    metadata: str = "{}"


PROBLEM_SCHEMA: pa.Schema = arrow_schema(Problem)
"""``problems/`` carries ``datasets`` features like the other output sets: ``load_dataset`` decodes its ``images`` as PIL."""
