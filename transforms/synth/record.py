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
    """

    question: str
    image: Image.Image
    caption: str
    choices: list[str]
    answer: str
    params: dict[str, Any]


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

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``metadata`` object the writers emit."""
        return {"family": self.family, "difficulty": self.difficulty, "params": self.params}
