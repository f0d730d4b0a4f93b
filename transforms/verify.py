"""Verify stage: a verdict for every chain (answer extraction, equivalence, format checks)."""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import Generation, ProblemChains
from schemas.problem import Problem
from transforms.failures import guarded
from transforms.verifiers import verify, warm_up
from transforms.verifiers.config import VerifyConfig


def verify_generation(generation: Generation, problem: Problem, config: VerifyConfig) -> Generation:
    """A copy of ``generation`` with its verdict set.

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
    return dataclasses.replace(generation, verdict=verdict)


class _VerifyFn(beam.DoFn):
    def __init__(self, config: VerifyConfig):
        self._config = config
        self._correct = Metrics.counter("verify", "correct")
        self._rejected = Metrics.counter("verify", "rejected")
        self._unverifiable = Metrics.counter("verify", "unverifiable")

    def setup(self):
        warm_up()  # SymPy's first simplifications and pint's registry cost ~1-2 s each; pay them outside any budget

    def process(self, chains: ProblemChains):
        problem = chains.planned.problem
        verified = [verify_generation(g, problem, self._config) for g in chains.generations]
        for generation in verified:
            verdict = generation.verdict
            (self._correct if verdict.correct else self._unverifiable if verdict.unverifiable else self._rejected).inc()
        yield ProblemChains(planned=chains.planned, generations=verified)


class VerifyChains(beam.PTransform):
    """ProblemChains → the same, every chain carrying its verdict."""

    def __init__(self, config: VerifyConfig):
        super().__init__()
        self._config = config

    def expand(self, chains):
        return chains | "Verify" >> guarded("verify", beam.ParDo(_VerifyFn(self._config)))
