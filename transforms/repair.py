"""Repair: R1V's self-distillation step — rewrite a wrong chain toward the known answer, verify again.

For a problem with no correct chain, the first wrong sample and the reference answer go to a
rewrite model (through the teacher layer: concurrent, retried, cached). The rewrite is
verified like any chain; it joins the problem's chains with ``provenance="repair"`` (it does
not count toward the pass rate) and selection may keep it. A rewrite request that fails for
good leaves the problem's chains as they were (counted, not dead-lettered: nothing was lost).
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from pydantic import Field

from schemas.generation import Generation, ProblemChains
from schemas.plan import SamplingPlan
from schemas.settings import Settings
from schemas.stages import REPAIR
from transforms.failures import guarded
from transforms.generations import to_generation
from transforms.teacher_calls import Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import problem_content
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings, endpoint_field
from transforms.verdicts import verify_generation
from transforms.verifiers.config import VerifyConfig

INSTRUCTION = (
    "Below is a flawed solution to this problem and the correct final answer. Rewrite the solution so that "
    "every step is right and it reaches the correct answer. Think inside <think> </think>, then give the "
    "final answer in \\boxed{{}}.\n\nCorrect final answer: {answer}\n\nFlawed solution:\n{chain}"
)


class RepairSettings(Settings):
    """Whether to repair, with which model (None: the run's teacher) and budget."""

    enabled: bool = Field(default=False, description="Rewrite a wrong chain toward the known answer for a problem with no correct chain.")
    endpoint: TeacherSettings | None = endpoint_field()
    max_tokens: int = Field(default=512, gt=0, description="Token budget of a rewrite.")
    temperature: float = Field(default=0.3, ge=0.0, description="Sampling temperature of the rewrite.")


def needs_repair(chains: ProblemChains) -> Generation | None:
    """The wrong sample to rewrite (the first with any text), or None when a chain is already correct."""
    if any(g.verdict and g.verdict.correct for g in chains.generations):
        return None
    return next((g for g in chains.generations if g.content.strip()), None)


def repair_plan(chains: ProblemChains, settings: RepairSettings) -> SamplingPlan:
    """Sampling for the rewrite; its sample number follows the problem's samples."""
    plan = chains.planned.plan
    return dataclasses.replace(plan, n=1, max_tokens=settings.max_tokens, temperature=settings.temperature,
                               repetition_penalty=1.0, policy="repair", first_sample=plan.first_sample + plan.n)


def repair_messages(chains: ProblemChains, wrong: Generation, modality: str) -> list[dict]:
    """The problem, the reference answer and the wrong chain, as one user turn."""
    problem = chains.planned.problem
    return [{"role": "user", "content": problem_content(problem, INSTRUCTION.format(answer=problem.answer, chain=wrong.content), modality)}]


class RepairFn(TeacherCallFn):
    """ProblemChains → the same, with a verified rewrite added where no chain was correct."""

    def __init__(self, settings: RepairSettings, endpoint: Endpoint, verify: VerifyConfig):
        super().__init__(REPAIR.name, endpoint)
        self._repair = settings
        self._verify = verify

    async def _rewrite(self, chains: ProblemChains, wrong: Generation) -> ProblemChains:
        plan = repair_plan(chains, self._repair)
        problem = chains.planned.problem
        prompt = Prompt(repair_messages(chains, wrong, self.endpoint.settings.modality), problem)
        try:
            answer = await self.ask(prompt, plan, plan.first_sample)
        except TeacherError:
            self.count("rewrite_failed")
            return chains
        planned = dataclasses.replace(chains.planned, plan=plan)
        rewrite = to_generation(planned, plan.first_sample, answer, self.model)
        verified = verify_generation(dataclasses.replace(rewrite, provenance="repair"), problem, self._verify)
        self.count("repaired" if verified.verdict.correct else "still_wrong")
        return dataclasses.replace(chains, generations=[*chains.generations, verified])

    def process(self, chains: ProblemChains):
        wrong = needs_repair(chains)
        if wrong is None:
            self.count("not_needed")
            yield chains
            return
        yield from self.submit(self._rewrite(chains, wrong), chains)


class RepairChains(beam.PTransform):
    """Verified ProblemChains → the same, wrong-only problems with a verified rewrite added."""

    def __init__(self, settings: RepairSettings, endpoint: Endpoint, verify: VerifyConfig):
        super().__init__()
        self._fn = RepairFn(settings, endpoint, verify)

    def expand(self, chains):
        return chains | "Repair" >> guarded(REPAIR.name, beam.ParDo(self._fn))
