"""Verify stage: a verdict for every chain (answer extraction, equivalence, format checks, how the reply finished,
chain hygiene), counted by outcome and by each hygiene and finish reason (``verify/reserved_token``,
``verify/finish_content_filter`` …; ``verify/hygiene_escaped`` under ``hygiene.policy: escape``)."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import ProblemChains
from schemas.stages import VERIFY
from transforms.failures import guarded
from transforms.verdicts import verify_generation
from transforms.verifiers import warm_up
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.hygiene import REASONS, hygiene


class _VerifyFn(beam.DoFn):
    def __init__(self, config: VerifyConfig):
        self._config = config
        self._correct = Metrics.counter(VERIFY.name, "correct")
        self._rejected = Metrics.counter(VERIFY.name, "rejected")
        self._unverifiable = Metrics.counter(VERIFY.name, "unverifiable")
        self._escaped = Metrics.counter(VERIFY.name, "hygiene_escaped")

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
                    Metrics.counter(VERIFY.name, reason).inc()
            if (generation.reasoning, generation.answer_text) != (before.reasoning, before.answer_text):
                self._escaped.inc()
        yield ProblemChains(planned=chains.planned, generations=verified)


class VerifyChains(beam.PTransform):
    """ProblemChains → the same, every chain carrying its verdict."""

    def __init__(self, config: VerifyConfig):
        super().__init__()
        self._config = config

    def expand(self, chains):
        return chains | "Verify" >> guarded(VERIFY.name, beam.ParDo(_VerifyFn(self._config)))
