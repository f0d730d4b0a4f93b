"""A teacher's answer as a :class:`Generation` record: the reply split into reasoning and answer, its plan, usage
and cache facts, and its chain signals when log probabilities were asked for.

Shared by every stage that turns an answer into a chain (generate, repair, evaluate).
"""
from __future__ import annotations

from schemas.generation import Generation
from schemas.plan import PlannedProblem
from schemas.signals import ChainSignals
from transforms.chain_signals import chain_signals
from transforms.teacher_calls import Answer
from transforms.teachers.base import Completion
from transforms.teachers.parse import split_reasoning
from transforms.teachers.settings import LogprobSettings


def signals_of(completion: Completion, logprobs: LogprobSettings | None) -> ChainSignals | None:
    """The chain's signals when ``logprobs`` were asked for (``unknown`` naming why a reply had none usable)."""
    if logprobs is None:
        return None
    if completion.logprobs is None:
        return ChainSignals(unknown=completion.logprobs_error or "logprobs_missing")
    return chain_signals(completion.logprobs, logprobs)


def to_generation(planned: PlannedProblem, index: int, answer: Answer, model: str,
                  logprobs: LogprobSettings | None = None) -> Generation:
    """A Generation record from the teacher's answer (with its signals when ``logprobs`` were asked for, and its
    per-token data too with ``logprobs.keep``)."""
    completion = answer.completion
    reasoning, answer_text = split_reasoning(completion.content, completion.reasoning)
    keep = logprobs is not None and logprobs.keep
    return Generation(
        problem_id=planned.problem.id,
        teacher=model,
        sample_index=index,
        content=completion.content,
        reasoning=reasoning,
        answer_text=answer_text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=completion.latency_s,
        sampling=planned.plan,
        difficulty=planned.assessment.difficulty,
        cache_key=answer.key,
        cached=answer.cached,
        assessment=planned.assessment,
        signals=signals_of(completion, logprobs),
        token_logprobs=completion.logprobs if keep else None,
    )
