"""Select stage: keep the correct chain that fits; route problems to SFT, RL, preference and dropped.

Strategies: ``shortest_correct`` (fewest tokens) or ``length_fit`` (tokens closest to the
plan's ``length_budget``, the band's target). The SFT row's ``selection`` records which chain
won and why. A problem with no correct chain is dropped (reason ``no_correct_chain``, with the
chains' reject reasons in the detail) — unless one of its chains is unverifiable (an answer no
rule could decide, and no answer judge decided it): then its reason is ``unverifiable``, since
such a chain may be right. RL rows keep problems whose pass rate lies strictly
between the configured bounds (R1V2's selective sample buffer: groups where every sample agrees
carry no advantage). Preference rows pair the kept chain with a wrong one, else with a correct
one at least ``overlong_factor`` times longer; with ``pairs: score`` (R1V2's MPO) they pair the
problem's best-scored eligible chain with its worst-scored chain instead.

``min_chain_quality`` (the chain scorer's 0–5 scale, 0 = off; R1V's rounds raise it 2, 3, 4, 5)
keeps only correct chains scored at or above it (an unscored chain is below); a problem whose
correct chains all fall below is dropped as ``below_min_chain_quality``.
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
    pairs: Literal["verdict", "score"] = "verdict"
    min_chain_quality: float = Field(default=0.0, ge=0.0, le=5.0)


def _correct(generations: list[Generation], min_quality: float = 0.0) -> list[Generation]:
    """Correct chains, without those the chain dedup marked as near-repeats (and, with a ``min_quality``, those
    scored below it or unscored)."""
    return [g for g in generations if g.verdict and g.verdict.correct and g.duplicate_of is None
            and (min_quality <= 0 or (g.chain_score is not None and g.chain_score >= min_quality))]


def shortest_correct(generations: list[Generation], min_quality: float = 0.0) -> Generation | None:
    """The correct chain with the fewest completion tokens (ties: lowest sample index)."""
    return min(_correct(generations, min_quality), key=lambda g: (g.completion_tokens, g.sample_index), default=None)


def best_fit(generations: list[Generation], target: int, min_quality: float = 0.0) -> Generation | None:
    """The correct chain whose length is closest to ``target`` (ties: the shorter, then lowest index)."""
    return min(_correct(generations, min_quality),
               key=lambda g: (abs(g.completion_tokens - target), g.completion_tokens, g.sample_index), default=None)


def choose(chains: ProblemChains, strategy: str, min_quality: float = 0.0) -> tuple[Generation | None, str]:
    """The kept chain and the reason it was kept."""
    plan = chains.planned.plan
    correct = len(_correct(chains.generations, min_quality))
    if strategy == "length_fit":
        chosen = best_fit(chains.generations, plan.length_budget, min_quality)
        why = f"closest to {plan.length_budget} tokens ({plan.band})"
    else:
        chosen = shortest_correct(chains.generations, min_quality)
        why = "shortest"
    if chosen is None:
        return None, ""
    origin = "repaired chain" if chosen.provenance == "repair" else f"sample {chosen.sample_index}"
    bar = f" scored >= {min_quality:g}" if min_quality > 0 else ""
    return chosen, (f"{strategy}: {origin}, {chosen.completion_tokens} tokens, {why}; {correct} of "
                    f"{len(chains.generations)} correct{bar}")


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


def score_pair(generations: list[Generation], min_quality: float = 0.0) -> tuple[Generation, Generation] | None:
    """R1V2's MPO pair: the best-scored eligible correct chain and the worst-scored chain scored lower (ties: the
    shorter chosen, the longer rejected, then lower sample index); None without such a pair."""
    best = min((g for g in _correct(generations, min_quality) if g.chain_score is not None),
               key=lambda g: (-g.chain_score, g.completion_tokens, g.sample_index), default=None)
    if best is None:
        return None
    worst = min((g for g in generations if g.chain_score is not None and g.chain_score < best.chain_score),
                key=lambda g: (g.chain_score, -g.completion_tokens, g.sample_index), default=None)
    return None if worst is None else (best, worst)


def reject_summary(generations: list[Generation]) -> str:
    """Counts of the chains' reject reasons, e.g. ``wrong_answer×3, truncated×1``."""
    counts = Counter(r for g in generations if g.verdict for r in g.verdict.reasons)
    return ", ".join(f"{reason}×{n}" for reason, n in counts.most_common())


def drop_reason(generations: list[Generation]) -> str:
    """Why a problem without a kept chain is dropped: ``below_min_chain_quality`` when it has correct chains (so the
    quality bar took them), else ``unverifiable`` when any chain is, else ``no_correct_chain``."""
    if _correct(generations):
        return "below_min_chain_quality"
    return "unverifiable" if any(g.verdict and g.verdict.unverifiable for g in generations) else "no_correct_chain"


def score_summary(generations: list[Generation]) -> str:
    """Counts of the correct chains' scores, e.g. ``correct chains scored 1×2, 2×1, unscored×1``."""
    counts = Counter("unscored" if g.chain_score is None else f"{g.chain_score:g}" for g in _correct(generations))
    return "correct chains scored " + ", ".join(f"{k}×{n}" for k, n in sorted(counts.items()))


def wants_rl(pass_rate: float, settings: SelectSettings) -> bool:
    """Whether a problem with this pass rate becomes an RL row."""
    return settings.rl_min_pass_rate < pass_rate < settings.rl_max_pass_rate


class _SelectFn(beam.DoFn):
    def __init__(self, settings: SelectSettings):
        self._settings = settings
        self._kept = Metrics.counter("select", "kept")
        self._dropped = {reason: Metrics.counter("select", reason)
                         for reason in ("no_correct_chain", "unverifiable", "below_min_chain_quality")}

    def process(self, chains: ProblemChains):
        s = self._settings
        if wants_rl(chains.pass_rate, s):
            yield beam.pvalue.TaggedOutput(RL, rl_row(chains))
        chosen, why = choose(chains, s.strategy, s.min_chain_quality)
        if chosen is None:
            reason = drop_reason(chains.generations)
            self._dropped[reason].inc()
            problem = chains.planned.problem
            detail = score_summary(chains.generations) if reason == "below_min_chain_quality" else reject_summary(chains.generations)
            yield beam.pvalue.TaggedOutput(
                DROPPED,
                RejectRow(row_id=problem.id, source=problem.source, stage="select", reason=reason, detail=detail),
            )
            return
        self._kept.inc()
        yield sft_row(chains, chosen, why)
        if s.preference:
            yield from self._pair(chains, chosen)

    def _pair(self, chains: ProblemChains, chosen: Generation):
        if self._settings.pairs == "score":
            pair = score_pair(chains.generations, self._settings.min_chain_quality)
            if pair is not None:
                yield beam.pvalue.TaggedOutput(PREFERENCE, preference_row(chains, *pair, "lower_score"))
            return
        rejected = rejected_for(chosen, chains.generations, self._settings.overlong_factor)
        if rejected is not None:
            yield beam.pvalue.TaggedOutput(PREFERENCE, preference_row(chains, chosen, *rejected))


class SelectChains(beam.PTransform):
    """Verified ProblemChains → SFT rows (main), RL rows, preference rows and dropped problems."""

    def __init__(self, settings: SelectSettings):
        super().__init__()
        self._settings = settings

    def expand(self, chains):
        select = beam.ParDo(_SelectFn(self._settings)).with_outputs(RL, PREFERENCE, DROPPED, main="sft")
        return chains | "Select" >> guarded("select", select)
