"""The normalized problem every stage after ``read`` works on."""
from __future__ import annotations

from dataclasses import dataclass, field

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


IMAGE_REF_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
IMAGE_META_TYPE = pa.struct(
    [
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("sha256", pa.string()),
        ("phash", pa.string()),
    ]
)

PROBLEM_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("answer_type", pa.string()),
        ("images", pa.list_(IMAGE_REF_TYPE)),
        ("image_meta", pa.list_(IMAGE_META_TYPE)),
        ("choices", pa.list_(pa.string())),
        ("subject", pa.string()),
        ("caption", pa.string()),
        ("unit", pa.string()),
        ("metadata", pa.string()),
    ]
)
