"""The pass-rate policy's second round: more chains, with a larger budget, where the probe did badly.

Verified probe chains whose pass rate is below the threshold are re-planned
(``length.escalation_plan``: its samples are numbered after the probe's, so cache keys never
collide), generated and verified again, then joined back to their probe chains by problem id
(CoGroupByKey) — one ProblemChains per problem with every chain of both rounds. A problem whose
second round fails for good is dead-lettered by the generate stage and not emitted here.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import ProblemChains
from schemas.plan import PlannedProblem
from transforms.failures import guarded
from transforms.length import ProbeSettings, escalation_plan
from transforms.tags import DEAD_LETTER

ESCALATE = "escalate"


class _RouteFn(beam.DoFn):
    def __init__(self, settings: ProbeSettings):
        self._settings = settings
        self._escalated = Metrics.counter("length", "escalated")

    def process(self, chains: ProblemChains):
        plan = escalation_plan(chains.planned.plan, chains.pass_rate, self._settings)
        if plan is None:
            yield chains
            return
        self._escalated.inc()
        yield beam.pvalue.TaggedOutput(ESCALATE, (chains, PlannedProblem(chains.planned.problem, chains.planned.assessment, plan)))


def merge_rounds(keyed: tuple[str, dict[str, list[ProblemChains]]]):
    """Probe and escalated chains of one problem as one ProblemChains (nothing if the second round failed)."""
    _, rounds = keyed
    if not rounds["more"]:
        return
    (probe,), (more,) = rounds["probe"], rounds["more"]
    yield ProblemChains(planned=more.planned, generations=probe.generations + more.generations)


class EscalateLowPassRate(beam.PTransform):
    """Verified probe chains → ``{"chains": all problems' chains, DEAD_LETTER: second-round failures}``.

    ``generate`` and ``verify`` are the stage transforms the second round runs through.
    """

    def __init__(self, settings: ProbeSettings, generate: beam.PTransform, verify: beam.PTransform):
        super().__init__()
        self._settings = settings
        self._generate = generate
        self._verify = verify

    def expand(self, probed):
        routed = probed | "Route" >> guarded("plan", beam.ParDo(_RouteFn(self._settings)).with_outputs(ESCALATE, main="done"))
        second = routed[ESCALATE] | "Replan" >> beam.Map(lambda pair: pair[1]) | "Generate" >> self._generate
        verified = second.chains | "Verify" >> self._verify
        probe_by_id = routed[ESCALATE] | "KeyProbe" >> beam.Map(lambda pair: (pair[0].planned.problem.id, pair[0]))
        more_by_id = verified | "KeyMore" >> beam.Map(lambda c: (c.planned.problem.id, c))
        merged = {"probe": probe_by_id, "more": more_by_id} | "Join" >> beam.CoGroupByKey() | "Merge" >> beam.FlatMap(merge_rounds)
        return {"chains": (routed.done, merged) | "AllChains" >> beam.Flatten(), DEAD_LETTER: second[DEAD_LETTER]}
