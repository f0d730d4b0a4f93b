"""The checks a teacher's chain gets beyond its answer: how the reply finished, and chain hygiene.

The verify stage runs them after :func:`~transforms.verifiers.verify` (which rewards also call on a
student's output, where neither applies) and adds them to the chain's verdict: ``finished`` fails
with ``finish_<reason>`` for a reply that ended other than ``stop`` or ``length`` (``length`` fails
``not_truncated`` already): ``finish_content_filter``, ``finish_tool_calls``, ``finish_missing``,
``finish_unknown`` …; ``hygiene`` fails with the words of :mod:`transforms.verifiers.hygiene` under
``policy: drop``, and under ``escape`` passes with the reasoning, answer text and extracted answer escaped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.generation import REPLY_CHECKS
from transforms.verifiers.hygiene import HygieneSettings, hygiene, pieces_finds

KEPT_FINISH = ("stop", "length")
_WORD = re.compile(r"[a-z_]{1,24}")


def finished(finish_reason: str | None) -> tuple[bool, str]:
    """Whether the reply ended as a chain may (``stop``, or ``length``, which ``not_truncated`` judges)."""
    word = finish_reason or "missing"
    if word in KEPT_FINISH:
        return True, ""
    return False, f"finish_{word if _WORD.fullmatch(word) else 'unknown'}"


@dataclass(frozen=True)
class ChainCheck:
    """The two checks' results and reasons, and the chain's texts as they may be kept (escaped under ``escape``)."""

    reasoning: str
    answer_text: str
    extracted_answer: str | None
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    escaped: bool = False


def check_chain(reasoning: str, answer_text: str, extracted_answer: str | None, finish_reason: str | None,
                settings: HygieneSettings) -> ChainCheck:
    """``finished`` and ``hygiene`` for one chain: its reasoning and answer text are what a row trains on."""
    done, why = finished(finish_reason)
    reasons = [] if done else [why]
    rules = hygiene(settings)
    texts = [reasoning, answer_text, extracted_answer or ""]
    finds = pieces_finds(texts, rules)
    if finds and settings.policy == "escape" and "bad_text" not in finds:
        reasoning, answer_text = rules.escape(reasoning), rules.escape(answer_text)
        extracted_answer = None if extracted_answer is None else rules.escape(extracted_answer)
        return ChainCheck(reasoning, answer_text, extracted_answer, dict(zip(REPLY_CHECKS, (done, True))), reasons, True)
    return ChainCheck(reasoning, answer_text, extracted_answer, dict(zip(REPLY_CHECKS, (done, not finds))), reasons + finds)
