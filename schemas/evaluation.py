"""What ``mmcot evaluate`` records: one item per problem asked, the scores by group, the report.

``items/`` (Parquet, one :class:`EvalItem` a row) holds every answer with its verdict;
``evaluation.json`` (:class:`EvalReport`) the accuracy with its interval overall, per band and
per answer type, the mean output length, and the accounting (read = evaluated + dead-lettered).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from schemas.convert import from_row, to_row
from schemas.derive import Int32


@dataclass
class EvalItem:
    """One problem as the evaluated model answered it, and the verifier's verdict.

    ``band`` is the problem's difficulty band (the run config's bands), ``reasons`` the verdict's
    failed checks (empty when ``correct``), ``completion_tokens`` the answer's length as the server
    counted it; ``cached`` when the answer came from the response cache.
    """

    problem_id: str
    source: str
    band: str
    difficulty: float
    answer_type: str
    correct: bool
    unverifiable: bool
    extracted_answer: str | None
    reasons: list[str]
    completion_tokens: Int32
    finish_reason: str
    content: str
    cached: bool


@dataclass
class GroupScore:
    """Accuracy of one group of items (``all``, a band, an answer type) with its interval.

    ``low``/``high`` bound ``accuracy`` (the report's ``interval`` says how; None for an empty
    group); ``mean_tokens`` is the mean answer length, ``mean_tokens_correct`` that of the correct
    answers (None when none is correct).
    """

    group: str
    n: int
    correct: int
    accuracy: float | None
    low: float | None
    high: float | None
    mean_tokens: float | None
    mean_tokens_correct: float | None


@dataclass
class EvalReport:
    """One model on one problem set: who was asked how, what came back, how often it was right.

    ``sampling`` holds the request's settings (``max_tokens``, ``temperature``, ``top_p``,
    ``repetition_penalty``) and ``modality`` the prompt's form (``text``: the caption in the images'
    place); ``reasons`` counts the failed checks of the wrong answers; ``read`` = ``evaluated`` +
    the dead-lettered rows (``dead_lettered``: ``stage/reason`` → rows).
    """

    model: str
    endpoint: str
    problems: str
    modality: str
    sampling: dict[str, float]
    interval: str
    read: int
    evaluated: int
    overall: GroupScore
    by_band: list[GroupScore] = field(default_factory=list)
    by_answer_type: list[GroupScore] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    from_cache: int = 0
    wall_time_s: float = 0.0

    def balanced(self) -> bool:
        """Every row read was either evaluated or dead-lettered."""
        return self.read == self.evaluated + sum(self.dead_lettered.values())

    def to_json(self) -> str:
        return json.dumps(to_row(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EvalReport:
        return from_row(cls, json.loads(text))


@dataclass
class PairedDifference:
    """How much model B's accuracy differs from model A's on the same problems, with a paired bootstrap interval.

    ``n`` problems answered by both; ``a_only``/``b_only`` those only one got right (the discordant
    pairs, which alone move the difference); ``low``/``high`` the percentile interval of the mean
    difference over ``resamples`` resamples of problems (seeded).
    """

    n: int
    a_accuracy: float
    b_accuracy: float
    difference: float
    low: float
    high: float
    a_only: int
    b_only: int
    resamples: int
    confidence: float

    def excludes_zero(self) -> bool:
        """The interval lies wholly on one side of no difference."""
        return self.low > 0 or self.high < 0
