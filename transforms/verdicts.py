"""A chain's verdict: the answer's (extraction, equivalence, format checks), then how the reply finished and chain
hygiene.

Shared by every stage that verifies a chain (verify, repair's rewrite, evaluate).
"""
from __future__ import annotations

import dataclasses

from schemas.generation import Generation
from schemas.problem import Problem
from transforms.verifiers import verify
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.reply_checks import check_chain


def verify_generation(generation: Generation, problem: Problem, config: VerifyConfig) -> Generation:
    """A copy of ``generation`` with its verdict set: the answer's, then how the reply finished and chain hygiene
    (``reply_checks``; under ``hygiene.policy: escape`` the chain's texts come back escaped).

    When the server split the reasoning out (no ``</think>`` left in the content), the
    reasoning goes to the verifier separately and only the content is searched for the answer.
    """
    split_by_server = bool(generation.reasoning) and "</think>" not in generation.content
    verdict = verify(
        generation.content,
        problem.answer,
        problem.answer_type,
        problem.choices or None,
        reasoning=generation.reasoning if split_by_server else None,
        finish_reason=generation.finish_reason,
        config=config,
        unit=problem.unit,
    )
    chain = check_chain(generation.reasoning, generation.answer_text, verdict.extracted_answer, generation.finish_reason,
                        config.hygiene)
    verdict = dataclasses.replace(verdict, extracted_answer=chain.extracted_answer,
                                  checks={**verdict.checks, **chain.checks}, reasons=[*verdict.reasons, *chain.reasons],
                                  correct=verdict.correct and not chain.reasons,
                                  unverifiable=verdict.unverifiable and not chain.reasons)
    return dataclasses.replace(generation, reasoning=chain.reasoning, answer_text=chain.answer_text, verdict=verdict)
