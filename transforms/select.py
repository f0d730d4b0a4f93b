"""Select stage: keep the correct chain that fits; route problems to SFT, RL, preference and dropped.

Strategies: ``shortest_correct`` (fewest tokens) or ``length_fit`` (tokens closest to the
plan's ``length_budget``, the band's target). The SFT row's ``selection`` records which chain
won and why. A problem with no correct chain is dropped (reason ``no_correct_chain``, with the
chains' reject reasons in the detail) — unless one of its chains is unverifiable (an answer no
rule could decide, and no answer judge decided it): then its reason is ``unverifiable``, since
such a chain may be right. RL rows keep problems whose pass rate lies strictly
between the configured bounds (R1V2's selective sample buffer: groups where every sample agrees
carry no advantage). Preference rows pair the kept chain with a wrong one, else with a correct
one at least ``overlong_factor`` times longer.
"""
from __future__ import annotations

from collections import Counter
from typing import Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import Field

from schemas.generation import Generation, ProblemChains
from schemas.outputs import RejectRow
from schemas.settings import Settings
from transforms.curriculum import RLOrder
from transforms.failures import guarded
from transforms.rows import preference_row, rl_row, sft_row
from transforms.tags import DROPPED

RL = "rl"
PREFERENCE = "preference"


class SelectSettings(Settings):
    """Which chain to keep, which problems make RL rows (pass rate strictly inside the bounds) and in which
    curriculum order they are written (``rl_order``, see :mod:`transforms.curriculum`), preference pairs."""

    strategy: Literal["shortest_correct", "length_fit"] = "length_fit"
    rl_min_pass_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    rl_max_pass_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    rl_order: RLOrder = "id"
    preference: bool = True
    overlong_factor: float = Field(default=1.5, gt=1.0)


def _correct(generations: list[Generation]) -> list[Generation]:
    """Correct chains, without those the chain dedup marked as near-repeats."""
    return [g for g in generations if g.verdict and g.verdict.correct and g.duplicate_of is None]


def shortest_correct(generations: list[Generation]) -> Generation | None:
    """The correct chain with the fewest completion tokens (ties: lowest sample index)."""
    return min(_correct(generations), key=lambda g: (g.completion_tokens, g.sample_index), default=None)


def best_fit(generations: list[Generation], target: int) -> Generation | None:
    """The correct chain whose length is closest to ``target`` (ties: the shorter, then lowest index)."""
    return min(_correct(generations), key=lambda g: (abs(g.completion_tokens - target), g.completion_tokens, g.sample_index),
               default=None)


def choose(chains: ProblemChains, strategy: str) -> tuple[Generation | None, str]:
    """The kept chain and the reason it was kept."""
    plan = chains.planned.plan
    correct = len(_correct(chains.generations))
    if strategy == "length_fit":
        chosen = best_fit(chains.generations, plan.length_budget)
        why = f"closest to {plan.length_budget} tokens ({plan.band})"
    else:
        chosen = shortest_correct(chains.generations)
        why = "shortest"
    if chosen is None:
        return None, ""
    origin = "repaired chain" if chosen.provenance == "repair" else f"sample {chosen.sample_index}"
    return chosen, f"{strategy}: {origin}, {chosen.completion_tokens} tokens, {why}; {correct} of {len(chains.generations)} correct"


def rejected_for(chosen: Generation, generations: list[Generation], overlong_factor: float) -> tuple[Generation, str] | None:
    """The chain to pair against ``chosen``: the first wrong sample, else the longest overlong correct one."""
    wrong = [g for g in generations if g.verdict and not g.verdict.correct and not g.verdict.unverifiable
             and g.provenance == "teacher"]
    if wrong:
        return min(wrong, key=lambda g: g.sample_index), "wrong"
    overlong = [g for g in _correct(generations) if g.completion_tokens >= overlong_factor * max(chosen.completion_tokens, 1)]
    if overlong:
        return max(overlong, key=lambda g: (g.completion_tokens, -g.sample_index)), "overlong"
    return None


def reject_summary(generations: list[Generation]) -> str:
    """Counts of the chains' reject reasons, e.g. ``wrong_answer×3, truncated×1``."""
    counts = Counter(r for g in generations if g.verdict for r in g.verdict.reasons)
    return ", ".join(f"{reason}×{n}" for reason, n in counts.most_common())


def drop_reason(generations: list[Generation]) -> str:
    """Why a problem without a correct chain is dropped: ``unverifiable`` when any chain is, else ``no_correct_chain``."""
    return "unverifiable" if any(g.verdict and g.verdict.unverifiable for g in generations) else "no_correct_chain"


def wants_rl(pass_rate: float, settings: SelectSettings) -> bool:
    """Whether a problem with this pass rate becomes an RL row."""
    return settings.rl_min_pass_rate < pass_rate < settings.rl_max_pass_rate


class _SelectFn(beam.DoFn):
    def __init__(self, settings: SelectSettings):
        self._settings = settings
        self._kept = Metrics.counter("select", "kept")
        self._dropped = {reason: Metrics.counter("select", reason) for reason in ("no_correct_chain", "unverifiable")}

    def process(self, chains: ProblemChains):
        if wants_rl(chains.pass_rate, self._settings):
            yield beam.pvalue.TaggedOutput(RL, rl_row(chains))
        chosen, why = choose(chains, self._settings.strategy)
        if chosen is None:
            reason = drop_reason(chains.generations)
            self._dropped[reason].inc()
            problem = chains.planned.problem
            yield beam.pvalue.TaggedOutput(
                DROPPED,
                RejectRow(
                    row_id=problem.id,
                    source=problem.source,
                    stage="select",
                    reason=reason,
                    detail=reject_summary(chains.generations),
                ),
            )
            return
        self._kept.inc()
        yield sft_row(chains, chosen, why)
        rejected = rejected_for(chosen, chains.generations, self._settings.overlong_factor) if self._settings.preference else None
        if rejected is not None:
            yield beam.pvalue.TaggedOutput(PREFERENCE, preference_row(chains, chosen, *rejected))


class SelectChains(beam.PTransform):
    """Verified ProblemChains → SFT rows (main), RL rows, preference rows and dropped problems."""

    def __init__(self, settings: SelectSettings):
        super().__init__()
        self._settings = settings

    def expand(self, chains):
        return chains | "Select" >> guarded("select", beam.ParDo(_SelectFn(self._settings)).with_outputs(RL, PREFERENCE, DROPPED, main="sft"))
