"""Teacher generations and their verdicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import pyarrow as pa

from schemas.derive import Int32, Keys, arrow_type
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.signals import ChainSignals, TokenLogprobs

#: Verifier checks in the order they run (and their reasons appear). ``reasoning_nonempty`` runs
#: only on an existing block and only when ``require_reasoning`` (a missing block already failed
#: ``single_reasoning_block``); ``answer_match`` is skipped when no answer was found
#: (``answer_found`` already failed). A skipped check is absent from ``Verdict.checks``.
#: :data:`REPLY_CHECKS` are the verify stage's checks of a teacher's chain
#: (``transforms/verifiers/reply_checks.py``), absent from a verdict on a student's output.
ANSWER_CHECKS = (
    "single_reasoning_block",
    "reasoning_nonempty",
    "not_truncated",
    "no_repetition",
    "language_consistent",
    "length_ok",
    "answer_found",
    "answer_match",
)
REPLY_CHECKS = ("finished", "hygiene")
CHECK_NAMES = ANSWER_CHECKS + REPLY_CHECKS


@dataclass
class Verdict:
    """Whether one chain's final answer equals the reference, and why not.

    ``checks`` maps a check name of :data:`CHECK_NAMES` to whether it passed; ``reasons`` names
    every failed check, so ``correct`` is true exactly when ``reasons`` is empty. In Parquet,
    ``checks`` is a struct with one nullable boolean per check name (null: skipped), not an
    Arrow map, so ``datasets`` can load ``generations/``.

    ``unverifiable`` is a verdict of its own: every format check passed and an answer was found,
    but no rule could decide whether it equals the gold (``reasons == ["unverifiable"]``); such a
    chain is neither correct nor wrong, and an answer judge may decide it. ``decided_by`` names
    the rule that compared the answer (``letter``, ``string``, ``numeric``, ``units``, ``angle``,
    ``solutions``, ``yes_no``, ``text``, ``words``, ``exact``, ``math_verify``, ``judge``; empty when no answer
    was compared); ``judge_model`` is the answer judge's model when it decided.
    """

    correct: bool
    extracted_answer: str | None
    checks: Annotated[dict[str, bool], Keys(CHECK_NAMES)] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    unverifiable: bool = False
    decided_by: str = ""
    judge_model: str | None = None

    def __post_init__(self):
        unknown = set(self.checks) - set(CHECK_NAMES)
        if unknown:
            raise ValueError(f"Verdict.checks: unknown check names {sorted(unknown)}; known: {list(CHECK_NAMES)}")


VERDICT_TYPE: pa.StructType = arrow_type(Verdict)


@dataclass
class Generation:
    """One sampled chain from a teacher for one problem.

    ``provenance`` is ``teacher`` for a sampled chain, ``repair`` for a wrong chain rewritten
    toward the reference answer (and verified again).

    ``duplicate_of`` is the sample index of an earlier chain this one nearly repeats (set only
    by the optional chain dedup); selection skips such chains, the pass rate still counts them.

    ``finish_reason`` and the token counts are as the reply gate left them (a count is None when unknown).

    ``assessment`` is the problem's assessment the chain was planned from (judge scores, clarity,
    difficulty and its source). ``chain_score`` is the optional scorer's 0–5 quality score
    (``transforms/chain_score.py``), ``scorer`` its model and ``score_rationale`` its reason; None
    when no scorer ran on the chain or it gave no valid score.

    ``signals`` are the chain's signals from the teacher's token probabilities (``teacher.logprobs``; None when
    they were not asked for, :class:`~schemas.signals.ChainSignals` with ``unknown`` set when the reply had no
    usable ones); ``token_logprobs`` the per-token data itself (only with ``teacher.logprobs.keep``).
    """

    problem_id: str
    teacher: str
    sample_index: Int32
    content: str
    reasoning: str
    answer_text: str
    finish_reason: str
    prompt_tokens: Int32 | None
    completion_tokens: Int32 | None
    latency_s: float
    sampling: SamplingPlan
    difficulty: float
    cache_key: str
    cached: bool = False
    provenance: str = "teacher"
    verdict: Verdict | None = None
    duplicate_of: Int32 | None = None
    assessment: Assessment | None = None
    chain_score: float | None = None
    scorer: str | None = None
    score_rationale: str | None = None
    signals: ChainSignals | None = None
    token_logprobs: TokenLogprobs | None = None


@dataclass
class ProblemChains:
    """A problem with all its sampled chains (each carrying its verdict once verified)."""

    planned: PlannedProblem
    generations: list[Generation]

    @property
    def sampled(self) -> list[Generation]:
        """The teacher's own samples (repairs excluded)."""
        return [g for g in self.generations if g.provenance == "teacher"]

    @property
    def pass_rate(self) -> float:
        """Share of the teacher's decided samples judged correct (0 when none is decided).

        Unverifiable samples (``Verdict.unverifiable``) are left out of both counts: they are
        neither right nor wrong, so 2 correct, 1 wrong and 1 unverifiable is a pass rate of 2/3.
        """
        decided = [g for g in self.sampled if not (g.verdict and g.verdict.unverifiable)]
        if not decided:
            return 0.0
        return sum(1 for g in decided if g.verdict and g.verdict.correct) / len(decided)
