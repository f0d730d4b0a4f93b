"""The pass-rate policy's second round: more chains, with a larger budget, where the probe did badly.

Verified probe chains whose pass rate is below the threshold are re-planned
(``probe.escalation_plan``: its samples are numbered after the probe's, so cache keys never
collide), generated and verified again, then joined back to their probe chains by problem id
(CoGroupByKey) — one ProblemChains per problem with every chain of both rounds. Routing counts
under ``escalate`` (``escalate/escalated``) and its failures are ``escalate`` dead letters; the second round's
calls and checks count under the stages that run them (``generate``, ``verify``), so a problem whose
second round fails for good is a ``generate`` dead letter and is not emitted here.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.generation import ProblemChains
from schemas.plan import PlannedProblem
from schemas.stages import ESCALATE
from transforms.failures import guarded
from transforms.probe import ProbeSettings, escalation_plan
from transforms.tags import DEAD_LETTER

SECOND_ROUND = "second_round"  # the side output of the problems that get a second round


class _RouteFn(beam.DoFn):
    def __init__(self, settings: ProbeSettings):
        self._settings = settings
        self._escalated = Metrics.counter(ESCALATE.name, "escalated")

    def process(self, chains: ProblemChains):
        plan = escalation_plan(chains.planned.plan, chains.pass_rate, self._settings)
        if plan is None:
            yield chains
            return
        self._escalated.inc()
        yield beam.pvalue.TaggedOutput(SECOND_ROUND, (chains, PlannedProblem(chains.planned.problem, chains.planned.assessment, plan)))


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
        routed = probed | "Route" >> guarded(ESCALATE.name, beam.ParDo(_RouteFn(self._settings)).with_outputs(SECOND_ROUND, main="done"))
        second = routed[SECOND_ROUND] | "Replan" >> beam.Map(lambda pair: pair[1]) | "Generate" >> self._generate
        verified = second.chains | "Verify" >> self._verify
        probe_by_id = routed[SECOND_ROUND] | "KeyProbe" >> beam.Map(lambda pair: (pair[0].planned.problem.id, pair[0]))
        more_by_id = verified | "KeyMore" >> beam.Map(lambda c: (c.planned.problem.id, c))
        merged = {"probe": probe_by_id, "more": more_by_id} | "Join" >> beam.CoGroupByKey() | "Merge" >> beam.FlatMap(merge_rounds)
        return {"chains": (routed.done, merged) | "AllChains" >> beam.Flatten(), DEAD_LETTER: second[DEAD_LETTER]}
