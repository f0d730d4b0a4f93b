"""The synthetic problem record and the per-family draft it is built from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

AnswerType = Literal["multiple_choice", "numeric"]


@dataclass
class Draft:
    """What a family generator produces; the registry adds identity and provenance.

    ``choices`` is empty for numeric problems. ``params`` holds the facts the picture was
    drawn from (bar values, side lengths, object list, ...) so answers can be re-derived.
    ``extra_images`` are the second and later pictures of a multi-image problem.
    """

    question: str
    image: Image.Image
    caption: str
    choices: list[str]
    answer: str
    params: dict[str, Any]
    extra_images: list[Image.Image] = field(default_factory=list)


@dataclass
class SynthProblem:
    """One generated image-question pair with an exact answer.

    Multiple-choice answers are the letter of the correct entry in ``choices``; numeric
    answers are a canonical decimal string ("12", "7.5").
    """

    id: str
    family: str
    question: str
    image: Image.Image
    choices: list[str]
    answer: str
    answer_type: AnswerType
    subject: str
    caption: str
    difficulty: float
    params: dict[str, Any] = field(default_factory=dict)
    extra_images: list[Image.Image] = field(default_factory=list)

    @property
    def images(self) -> list[Image.Image]:
        """Every picture of the problem, in the order the writers store them."""
        return [self.image, *self.extra_images]

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``metadata`` object the writers emit."""
        return {"family": self.family, "difficulty": self.difficulty, "params": self.params}
