"""Verify stage: a verdict for every chain (answer extraction, equivalence, format checks, how the reply finished,
chain hygiene), counted by outcome and by each hygiene and finish reason (``verify/reserved_token``,
``verify/finish_content_filter`` …; ``verify/hygiene_escaped`` under ``hygiene.policy: escape``)."""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import Generation, ProblemChains
from schemas.problem import Problem
from transforms.failures import guarded
from transforms.verifiers import verify, warm_up
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.hygiene import REASONS, hygiene
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


class _VerifyFn(beam.DoFn):
    def __init__(self, config: VerifyConfig):
        self._config = config
        self._correct = Metrics.counter("verify", "correct")
        self._rejected = Metrics.counter("verify", "rejected")
        self._unverifiable = Metrics.counter("verify", "unverifiable")
        self._escaped = Metrics.counter("verify", "hygiene_escaped")

    def setup(self):
        warm_up()  # SymPy's first simplifications and pint's registry cost ~1-2 s each; pay them outside any budget
        hygiene(self._config.hygiene)  # reads the student tokenizer, if one is named, once per process

    def process(self, chains: ProblemChains):
        problem = chains.planned.problem
        verified = [verify_generation(g, problem, self._config) for g in chains.generations]
        for before, generation in zip(chains.generations, verified):
            verdict = generation.verdict
            (self._correct if verdict.correct else self._unverifiable if verdict.unverifiable else self._rejected).inc()
            for reason in verdict.reasons:
                if reason in REASONS.values() or reason.startswith("finish_"):  # a bounded set of words
                    Metrics.counter("verify", reason).inc()
            if (generation.reasoning, generation.answer_text) != (before.reasoning, before.answer_text):
                self._escaped.inc()
        yield ProblemChains(planned=chains.planned, generations=verified)


class VerifyChains(beam.PTransform):
    """ProblemChains → the same, every chain carrying its verdict."""

    def __init__(self, config: VerifyConfig):
        super().__init__()
        self._config = config

    def expand(self, chains):
        return chains | "Verify" >> guarded("verify", beam.ParDo(_VerifyFn(self._config)))
