"""One completion's reward: accuracy from :func:`transforms.verifiers.verify`, plus optional format credit.

``score = (1 - format_weight) * accuracy + format_weight * format`` (the R1V / verl geo3k recipe;
geo3k uses 0.1). ``accuracy`` is 1 exactly when the verifier calls the completion correct under
``require_reasoning``; ``format`` is 1 when the completion has one well-formed ``<think>…</think>``
block with something in it and an answer the verifier can read after it.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transforms.verifiers import DEFAULT_CONFIG, Verdict, VerifyConfig, verify
from transforms.verifiers.segments import split_output

# Units reach the verifier once its public verify() takes them (Problem.unit's contract); until then
# the row's unit is carried but the comparison is unit-less, exactly as in the pipeline's verify stage.
_VERIFY_TAKES_UNIT = "unit" in inspect.signature(verify).parameters


@dataclass(frozen=True)
class AnswerSpec:
    """What a completion is compared with, read off an RL row."""

    gold: str
    answer_type: str | None = None
    choices: list[str] = field(default_factory=list)
    unit: str = ""

    @classmethod
    def from_row(cls, ground_truth: str, extra_info: Mapping[str, Any] | None) -> AnswerSpec:
        """From ``reward_model.ground_truth`` and ``extra_info`` (``answer_type``, ``choices``, ``unit``; any may be absent)."""
        info = extra_info or {}
        choices = info.get("choices")
        return cls(gold=str(ground_truth), answer_type=info.get("answer_type") or None,
                   choices=[str(c) for c in choices] if choices is not None else [], unit=info.get("unit") or "")


@dataclass(frozen=True)
class RewardSettings:
    """``format_weight`` in [0, 1]; ``require_reasoning``: accuracy also needs a reasoning block (the verifier's flag)."""

    format_weight: float = 0.0
    require_reasoning: bool = False

    def __post_init__(self):
        if not 0.0 <= self.format_weight <= 1.0:
            raise ValueError(f"format_weight must be in [0, 1], got {self.format_weight}")

    def verify_config(self) -> VerifyConfig:
        if self.require_reasoning == DEFAULT_CONFIG.require_reasoning:
            return DEFAULT_CONFIG
        return VerifyConfig(require_reasoning=self.require_reasoning)


@dataclass(frozen=True)
class Reward:
    """The score and its parts, as trainers log them."""

    score: float
    accuracy: float
    format: float
    verdict: Verdict


def format_ok(completion: str, verdict: Verdict) -> bool:
    """One well-formed, non-empty ``<think>`` block and an answer the verifier extracted after it."""
    segments = split_output(completion)
    return (segments.well_formed and bool((segments.reasoning or "").strip())
            and bool(verdict.checks.get("answer_found")))


def reward(completion: str, spec: AnswerSpec, settings: RewardSettings = RewardSettings()) -> Reward:
    """Score one completion against ``spec``."""
    unit = {"unit": spec.unit or None} if _VERIFY_TAKES_UNIT else {}
    verdict = verify(completion, spec.gold, spec.answer_type, spec.choices or None, config=settings.verify_config(), **unit)
    accuracy = 1.0 if verdict.correct else 0.0
    fmt = 1.0 if format_ok(completion, verdict) else 0.0
    w = settings.format_weight
    return Reward(score=(1.0 - w) * accuracy + w * fmt, accuracy=accuracy, format=fmt, verdict=verdict)
