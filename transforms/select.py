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

A chain that failed chain hygiene (``verify.hygiene``) is never written, not even as a rejected
chain; a problem all of whose chains failed it is dropped as ``unclean_chains``. Every row of a
problem (and, when ``output.trainers`` has ``trl``, its TRL twins, built here) is checked against the row
invariant (``transforms/row_invariant.py``) before any is emitted: a problem one of whose rows
breaks it is one ``select`` dead letter with the invariant's reason (``marker_mismatch``,
``media_marker``, ``reserved_token``, ``control_chars``, ``bad_text``) and none of its rows, so
the accounting still counts it once.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import Field

from schemas.generation import Generation, ProblemChains
from schemas.output_sets import TRL_SUFFIX
from schemas.outputs import PreferenceRow, RejectRow
from schemas.settings import Settings
from transforms.curriculum import RLOrder
from transforms.failures import guarded
from transforms.row_invariant import Violation, violation
from transforms.rows import preference_row, rl_row, sft_row
from transforms.tags import DEAD_LETTER, DROPPED
from transforms.trl_rows import trl_preference_row, trl_rl_row, trl_sft_row
from transforms.verifiers.hygiene import HygieneSettings

SFT = "sft"
RL = "rl"
PREFERENCE = "preference"
TRL_TWINS = {SFT: trl_sft_row, RL: trl_rl_row, PREFERENCE: trl_preference_row}


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


def _clean(generation: Generation) -> bool:
    """Whether the chain passed chain hygiene (a chain that failed it is never written, not even as rejected)."""
    return not (generation.verdict and generation.verdict.checks.get("hygiene") is False)


def _tokens(generation: Generation) -> float:
    """The chain's completion tokens; an unknown count (the reply gate refused the server's) sorts as longest."""
    return math.inf if generation.completion_tokens is None else generation.completion_tokens


def shortest_correct(generations: list[Generation], min_quality: float = 0.0) -> Generation | None:
    """The correct chain with the fewest completion tokens (ties: lowest sample index)."""
    return min(_correct(generations, min_quality), key=lambda g: (_tokens(g), g.sample_index), default=None)


def best_fit(generations: list[Generation], target: int, min_quality: float = 0.0) -> Generation | None:
    """The correct chain whose length is closest to ``target`` (ties: the shorter, then lowest index)."""
    return min(_correct(generations, min_quality),
               key=lambda g: (abs(_tokens(g) - target), _tokens(g), g.sample_index), default=None)


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
    tokens = "unknown" if chosen.completion_tokens is None else chosen.completion_tokens
    return chosen, (f"{strategy}: {origin}, {tokens} tokens, {why}; {correct} of "
                    f"{len(chains.generations)} correct{bar}")


def rejected_for(chosen: Generation, generations: list[Generation], overlong_factor: float) -> tuple[Generation, str] | None:
    """The chain to pair against ``chosen``: the first wrong sample that passed chain hygiene, else the longest
    overlong correct one (both lengths known)."""
    wrong = [g for g in generations if g.verdict and not g.verdict.correct and not g.verdict.unverifiable
             and g.provenance == "teacher" and _clean(g)]
    if wrong:
        return min(wrong, key=lambda g: g.sample_index), "wrong"
    if chosen.completion_tokens is None:
        return None
    overlong = [g for g in _correct(generations) if g.completion_tokens is not None
                and g.completion_tokens >= overlong_factor * max(chosen.completion_tokens, 1)]
    if overlong:
        return max(overlong, key=lambda g: (g.completion_tokens, -g.sample_index)), "overlong"
    return None


def score_pair(generations: list[Generation], min_quality: float = 0.0) -> tuple[Generation, Generation] | None:
    """R1V2's MPO pair: the best-scored eligible correct chain and the worst-scored chain scored lower that passed
    chain hygiene (ties: the shorter chosen, the longer rejected, then lower sample index); None without such a pair."""
    best = min((g for g in _correct(generations, min_quality) if g.chain_score is not None),
               key=lambda g: (-g.chain_score, _tokens(g), g.sample_index), default=None)
    if best is None:
        return None
    worst = min((g for g in generations if g.chain_score is not None and g.chain_score < best.chain_score and _clean(g)),
                key=lambda g: (g.chain_score, -(g.completion_tokens or 0), g.sample_index), default=None)
    return None if worst is None else (best, worst)


def reject_summary(generations: list[Generation]) -> str:
    """Counts of the chains' reject reasons, e.g. ``wrong_answer×3, truncated×1``."""
    counts = Counter(r for g in generations if g.verdict for r in g.verdict.reasons)
    return ", ".join(f"{reason}×{n}" for reason, n in counts.most_common())


def drop_reason(generations: list[Generation]) -> str:
    """Why a problem without a kept chain is dropped: ``below_min_chain_quality`` when it has correct chains (so the
    quality bar took them), else ``unclean_chains`` when every chain failed chain hygiene, else ``unverifiable``
    when any chain is, else ``no_correct_chain``."""
    if _correct(generations):
        return "below_min_chain_quality"
    if generations and not any(_clean(g) for g in generations):
        return "unclean_chains"
    return "unverifiable" if any(g.verdict and g.verdict.unverifiable for g in generations) else "no_correct_chain"


def score_summary(generations: list[Generation]) -> str:
    """Counts of the correct chains' scores, e.g. ``correct chains scored 1×2, 2×1, unscored×1``."""
    counts = Counter("unscored" if g.chain_score is None else f"{g.chain_score:g}" for g in _correct(generations))
    return "correct chains scored " + ", ".join(f"{k}×{n}" for k, n in sorted(counts.items()))


def wants_rl(pass_rate: float, settings: SelectSettings) -> bool:
    """Whether a problem with this pass rate becomes an RL row."""
    return settings.rl_min_pass_rate < pass_rate < settings.rl_max_pass_rate


def preference(chains: ProblemChains, chosen: Generation, settings: SelectSettings) -> PreferenceRow | None:
    """The problem's preference pair (``pairs: score``: best vs worst scored; else the kept chain vs a wrong or
    overlong one), or None when it has none."""
    if settings.pairs == "score":
        pair = score_pair(chains.generations, settings.min_chain_quality)
        return None if pair is None else preference_row(chains, *pair, "lower_score")
    rejected = rejected_for(chosen, chains.generations, settings.overlong_factor)
    return None if rejected is None else preference_row(chains, chosen, *rejected)


def route(chains: ProblemChains, settings: SelectSettings, trl_sets: bool = False) -> list[tuple[str, Any]]:
    """Every row one problem gives, by output set: ``rl`` (when its pass rate qualifies), ``sft`` and ``preference``
    (when a chain is kept) or ``dropped`` (when none is), and with ``trl_sets`` the TRL twin of each row."""
    routed: list[tuple[str, Any]] = []
    if wants_rl(chains.pass_rate, settings):
        routed.append((RL, rl_row(chains)))
    chosen, why = choose(chains, settings.strategy, settings.min_chain_quality)
    if chosen is None:
        reason = drop_reason(chains.generations)
        problem = chains.planned.problem
        detail = score_summary(chains.generations) if reason == "below_min_chain_quality" else reject_summary(chains.generations)
        routed.append((DROPPED, RejectRow(row_id=problem.id, source=problem.source, stage="select", reason=reason,
                                          detail=detail)))
    else:
        routed.append((SFT, sft_row(chains, chosen, why)))
        pair = preference(chains, chosen, settings) if settings.preference else None
        if pair is not None:
            routed.append((PREFERENCE, pair))
    if trl_sets:
        routed += [(name + TRL_SUFFIX, TRL_TWINS[name](row)) for name, row in list(routed) if name in TRL_TWINS]
    return routed


def unwritable(routed: list[tuple[str, Any]], hygiene: HygieneSettings) -> tuple[str, Violation] | None:
    """The first row of ``routed`` that breaks the row invariant (``transforms/row_invariant.py``), with its set."""
    for name, row in routed:
        if name != DROPPED:
            broken = violation(row, hygiene)
            if broken is not None:
                return name, broken
    return None


def row_sets(trl_sets: bool) -> list[str]:
    """The row sets select emits: sft, rl, preference, and with ``trl_sets`` their TRL twins."""
    return [*TRL_TWINS, *(name + TRL_SUFFIX for name in TRL_TWINS if trl_sets)]


class _SelectFn(beam.DoFn):
    def __init__(self, settings: SelectSettings, hygiene: HygieneSettings, trl_sets: bool):
        self._settings = settings
        self._hygiene = hygiene
        self._trl_sets = trl_sets

    def process(self, chains: ProblemChains):
        routed = route(chains, self._settings, self._trl_sets)
        broken = unwritable(routed, self._hygiene)
        if broken is not None:  # none of the problem's rows is written; it is one dead letter, as it was one row
            name, why = broken
            Metrics.counter("select", f"unwritable_{why.reason}").inc()
            problem = chains.planned.problem
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=problem.id, source=problem.source, stage="select", reason=why.reason, detail=f"{name}: {why.detail}"))
            return
        for name, row in routed:
            if name == DROPPED:
                Metrics.counter("select", row.reason).inc()
            elif name == SFT:
                Metrics.counter("select", "kept").inc()
            yield row if name == SFT else beam.pvalue.TaggedOutput(name, row)


class SelectChains(beam.PTransform):
    """Verified ProblemChains → SFT rows (main), RL rows, preference rows (with ``trl_sets``, their TRL twins),
    dropped problems, and a dead letter for a problem one of whose rows breaks the row invariant (checked under
    ``hygiene``, the run's ``verify.hygiene``)."""

    def __init__(self, settings: SelectSettings, hygiene: HygieneSettings | None = None, trl_sets: bool = False):
        super().__init__()
        self._settings = settings
        self._hygiene = hygiene or HygieneSettings()
        self._trl_sets = trl_sets

    def expand(self, chains):
        tagged = [name for name in row_sets(self._trl_sets) if name != SFT]
        select = beam.ParDo(_SelectFn(self._settings, self._hygiene, self._trl_sets)).with_outputs(
            *tagged, DROPPED, DEAD_LETTER, main=SFT)
        return chains | "Select" >> guarded("select", select)
