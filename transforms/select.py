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

The chain signals from the teacher's token probabilities (``teacher.logprobs``, :mod:`transforms.chain_signals`)
are used when asked: ``max_critical_entropy`` keeps out a correct chain whose mean entropy at critical tokens is
above it (a chain with no critical token passes), ``min_answer_logprob`` one whose answer span's mean log
probability is below it, and either keeps out a chain whose signals are unknown (``signals_unknown``: the reply
had no usable log probabilities, or no answer span was found); a chain never asked for signals (a repair) passes.
A problem whose correct chains are all kept out is dropped with the most common of these reasons. With
``prefer_low_entropy``, of two correct chains that fit the length target equally the one with the lower critical
entropy (then mean entropy) is kept.

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
from schemas.stages import SELECT
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

    strategy: Literal["shortest_correct", "length_fit"] = Field(
        default="length_fit",
        description="Which correct chain is kept: shortest_correct (fewest tokens) or length_fit (closest to the band's target length).",
    )
    rl_min_pass_rate: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="RL rows take problems whose pass rate is strictly above this.",
    )
    rl_max_pass_rate: float = Field(
        default=1.0, ge=0.0, le=1.0,
        description="RL rows take problems whose pass rate is strictly below this.",
    )
    rl_order: RLOrder = Field(
        default="id",
        description="Order RL rows are written in: id, pass_rate (easiest first) or difficulty (lowest first).",
    )
    preference: bool = Field(default=True, description="Write preference rows (the kept chain paired with a rejected one).")
    overlong_factor: float = Field(
        default=1.5, gt=1.0,
        description="With no wrong chain, a correct chain at least this many times longer than the kept one is the rejected one.",
    )
    pairs: Literal["verdict", "score"] = Field(
        default="verdict",
        description="Preference pairs: verdict (kept against a wrong or overlong chain) or score (best- against worst-scored chain; needs "
                    "a scorer).",
    )
    min_chain_quality: float = Field(
        default=0.0, ge=0.0, le=5.0,
        description="Keep only correct chains scored at or above this (the scorer's 0–5 scale; 0: off; needs a scorer).",
    )
    max_critical_entropy: float | None = Field(
        default=None, ge=0.0,
        description="Keep only correct chains whose critical-token entropy (nats) is at most this; null: off (needs teacher.logprobs).",
    )
    min_answer_logprob: float | None = Field(
        default=None, le=0.0,
        description="Keep only correct chains whose answer span's mean log probability is at least this; null: off (needs "
                    "teacher.logprobs).",
    )
    prefer_low_entropy: bool = Field(
        default=False,
        description="Between correct chains that fit the length target equally, keep the lower-entropy one (needs teacher.logprobs).",
    )

    def uses_signals(self) -> list[str]:
        """The keys set here that need the teacher's log probabilities."""
        return [key for key, used in (("select.max_critical_entropy", self.max_critical_entropy is not None),
                                      ("select.min_answer_logprob", self.min_answer_logprob is not None),
                                      ("select.prefer_low_entropy", self.prefer_low_entropy)) if used]


ANY = SelectSettings()
"""No bar: every correct chain may be kept."""


def signal_failure(generation: Generation, settings: SelectSettings) -> str | None:
    """Why the chain's signals keep it out under the thresholds (``signals_unknown``, ``above_max_critical_entropy``,
    ``below_min_answer_logprob``); None when they let it in."""
    signals = generation.signals
    if signals is None or (settings.max_critical_entropy is None and settings.min_answer_logprob is None):
        return None
    if signals.unknown is not None or (settings.min_answer_logprob is not None and signals.answer_logprob is None):
        return "signals_unknown"
    if settings.max_critical_entropy is not None and (signals.critical_entropy or 0.0) > settings.max_critical_entropy:
        return "above_max_critical_entropy"
    if settings.min_answer_logprob is not None and signals.answer_logprob < settings.min_answer_logprob:
        return "below_min_answer_logprob"
    return None


def kept_out(generation: Generation, settings: SelectSettings) -> str | None:
    """Why a correct chain may not be kept (``below_min_chain_quality`` or a :func:`signal_failure`); None: it may."""
    bar = settings.min_chain_quality
    if bar > 0 and (generation.chain_score is None or generation.chain_score < bar):
        return "below_min_chain_quality"
    return signal_failure(generation, settings)


def _verified(generations: list[Generation]) -> list[Generation]:
    """Correct chains, without those the chain dedup marked as near-repeats."""
    return [g for g in generations if g.verdict and g.verdict.correct and g.duplicate_of is None]


def _correct(generations: list[Generation], settings: SelectSettings = ANY) -> list[Generation]:
    """Correct chains that may be kept under ``settings`` (quality bar, signal thresholds), near-repeats left out."""
    return [g for g in _verified(generations) if kept_out(g, settings) is None]


def _entropy(generation: Generation) -> tuple[float, float]:
    """(critical entropy, mean entropy) for preferring the calmer chain; unknown figures sort last."""
    signals = generation.signals
    if signals is None or signals.unknown is not None:
        return math.inf, math.inf
    return tuple(math.inf if v is None else v for v in (signals.critical_entropy, signals.mean_entropy))


def _clean(generation: Generation) -> bool:
    """Whether the chain passed chain hygiene (a chain that failed it is never written, not even as rejected)."""
    return not (generation.verdict and generation.verdict.checks.get("hygiene") is False)


def _tokens(generation: Generation) -> float:
    """The chain's completion tokens; an unknown count (the reply gate refused the server's) sorts as longest."""
    return math.inf if generation.completion_tokens is None else generation.completion_tokens


def _calm(generation: Generation, settings: SelectSettings) -> tuple[float, ...]:
    return _entropy(generation) if settings.prefer_low_entropy else ()


def shortest_correct(generations: list[Generation], settings: SelectSettings = ANY) -> Generation | None:
    """The correct chain with the fewest completion tokens (ties: the lower entropy with ``prefer_low_entropy``,
    then lowest sample index)."""
    return min(_correct(generations, settings), key=lambda g: (_tokens(g), *_calm(g, settings), g.sample_index),
               default=None)


def best_fit(generations: list[Generation], target: int, settings: SelectSettings = ANY) -> Generation | None:
    """The correct chain whose length is closest to ``target`` (ties: the lower entropy with ``prefer_low_entropy``,
    then the shorter, then lowest index)."""
    return min(_correct(generations, settings),
               key=lambda g: (abs(_tokens(g) - target), *_calm(g, settings), _tokens(g), g.sample_index), default=None)


def _bar(settings: SelectSettings) -> str:
    """What a kept chain had to meet beyond being correct, for the selection text."""
    parts = [f"scored >= {settings.min_chain_quality:g}"] if settings.min_chain_quality > 0 else []
    if settings.max_critical_entropy is not None:
        parts.append(f"critical entropy <= {settings.max_critical_entropy:g}")
    if settings.min_answer_logprob is not None:
        parts.append(f"answer log probability >= {settings.min_answer_logprob:g}")
    return " " + " and ".join(parts) if parts else ""


def _signals_text(generation: Generation, settings: SelectSettings) -> str:
    signals = generation.signals
    if not settings.uses_signals() or signals is None or signals.unknown is not None:
        return ""
    shown = [f"{name} {value:.3f}" for name, value in (("critical entropy", signals.critical_entropy),
                                                        ("answer log probability", signals.answer_logprob))
             if value is not None]
    return ", " + ", ".join(shown) if shown else ""


def choose(chains: ProblemChains, strategy: str, settings: SelectSettings = ANY) -> tuple[Generation | None, str]:
    """The kept chain and the reason it was kept."""
    plan = chains.planned.plan
    correct = len(_correct(chains.generations, settings))
    if strategy == "length_fit":
        chosen = best_fit(chains.generations, plan.length_budget, settings)
        why = f"closest to {plan.length_budget} tokens ({plan.band})"
    else:
        chosen = shortest_correct(chains.generations, settings)
        why = "shortest"
    if chosen is None:
        return None, ""
    origin = "repaired chain" if chosen.provenance == "repair" else f"sample {chosen.sample_index}"
    tokens = "unknown" if chosen.completion_tokens is None else chosen.completion_tokens
    return chosen, (f"{strategy}: {origin}, {tokens} tokens{_signals_text(chosen, settings)}, {why}; {correct} of "
                    f"{len(chains.generations)} correct{_bar(settings)}")


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


def score_pair(generations: list[Generation], settings: SelectSettings = ANY) -> tuple[Generation, Generation] | None:
    """R1V2's MPO pair: the best-scored eligible correct chain and the worst-scored chain scored lower that passed
    chain hygiene (ties: the shorter chosen, the longer rejected, then lower sample index); None without such a pair."""
    best = min((g for g in _correct(generations, settings) if g.chain_score is not None),
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


def drop_reason(generations: list[Generation], settings: SelectSettings = ANY) -> str:
    """Why a problem without a kept chain is dropped: when it has correct chains, the most common reason they were
    kept out (``below_min_chain_quality``, ``signals_unknown``, ``above_max_critical_entropy``,
    ``below_min_answer_logprob``: :func:`kept_out`), else ``unclean_chains`` when every chain failed chain hygiene,
    else ``unverifiable`` when any chain is, else ``no_correct_chain``."""
    verified = _verified(generations)
    if verified:
        return Counter(kept_out(g, settings) or "" for g in verified).most_common(1)[0][0]
    if generations and not any(_clean(g) for g in generations):
        return "unclean_chains"
    return "unverifiable" if any(g.verdict and g.verdict.unverifiable for g in generations) else "no_correct_chain"


def score_summary(generations: list[Generation]) -> str:
    """Counts of the correct chains' scores, e.g. ``correct chains scored 1×2, 2×1, unscored×1``."""
    counts = Counter("unscored" if g.chain_score is None else f"{g.chain_score:g}" for g in _correct(generations))
    return "correct chains scored " + ", ".join(f"{k}×{n}" for k, n in sorted(counts.items()))


def signal_summary(generations: list[Generation], settings: SelectSettings) -> str:
    """Why each correct chain was kept out, with its figures, e.g. ``sample 0 above_max_critical_entropy (critical
    entropy 1.914, answer log probability -0.210)``."""
    parts = []
    for g in _verified(generations):
        signals = g.signals
        figures = ("" if signals is None or signals.unknown is not None else
                   f" (critical entropy {_figure(signals.critical_entropy)}, answer log probability "
                   f"{_figure(signals.answer_logprob)})")
        unknown = f" ({signals.unknown})" if signals is not None and signals.unknown else ""
        parts.append(f"sample {g.sample_index} {kept_out(g, settings)}{figures}{unknown}")
    return "correct chains kept out: " + "; ".join(parts)


def _figure(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def wants_rl(pass_rate: float, settings: SelectSettings) -> bool:
    """Whether a problem with this pass rate becomes an RL row."""
    return settings.rl_min_pass_rate < pass_rate < settings.rl_max_pass_rate


def preference(chains: ProblemChains, chosen: Generation, settings: SelectSettings) -> PreferenceRow | None:
    """The problem's preference pair (``pairs: score``: best vs worst scored; else the kept chain vs a wrong or
    overlong one), or None when it has none."""
    if settings.pairs == "score":
        pair = score_pair(chains.generations, settings)
        return None if pair is None else preference_row(chains, *pair, "lower_score")
    rejected = rejected_for(chosen, chains.generations, settings.overlong_factor)
    return None if rejected is None else preference_row(chains, chosen, *rejected)


def route(chains: ProblemChains, settings: SelectSettings, trl_sets: bool = False) -> list[tuple[str, Any]]:
    """Every row one problem gives, by output set: ``rl`` (when its pass rate qualifies), ``sft`` and ``preference``
    (when a chain is kept) or ``dropped`` (when none is), and with ``trl_sets`` the TRL twin of each row."""
    routed: list[tuple[str, Any]] = []
    if wants_rl(chains.pass_rate, settings):
        routed.append((RL, rl_row(chains)))
    chosen, why = choose(chains, settings.strategy, settings)
    if chosen is None:
        reason = drop_reason(chains.generations, settings)
        problem = chains.planned.problem
        detail = (score_summary(chains.generations) if reason == "below_min_chain_quality" else
                  signal_summary(chains.generations, settings) if _verified(chains.generations) else
                  reject_summary(chains.generations))
        routed.append((DROPPED, RejectRow(row_id=problem.id, source=problem.source, stage=SELECT.name, reason=reason,
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
            Metrics.counter(SELECT.name, f"unwritable_{why.reason}").inc()
            problem = chains.planned.problem
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=problem.id, source=problem.source, stage=SELECT.name, reason=why.reason, detail=f"{name}: {why.detail}"))
            return
        for name, row in routed:
            if name == DROPPED:
                Metrics.counter(SELECT.name, row.reason).inc()
            elif name == SFT:
                Metrics.counter(SELECT.name, "kept").inc()
            yield row if name == SFT else beam.pvalue.TaggedOutput(name, row)


class SelectChains(beam.PTransform):
    """Verified ProblemChains → SFT rows (main), RL rows, preference rows (with ``trl_sets``: TRL is one of
    ``output.trainers``, their TRL twins), dropped problems, and a dead letter for a problem one of whose rows breaks
    the row invariant (checked under ``hygiene``, the run's ``verify.hygiene``)."""

    def __init__(self, settings: SelectSettings, hygiene: HygieneSettings | None = None, trl_sets: bool = False):
        super().__init__()
        self._settings = settings
        self._hygiene = hygiene or HygieneSettings()
        self._trl_sets = trl_sets

    def expand(self, chains):
        tagged = [name for name in row_sets(self._trl_sets) if name != SFT]
        select = beam.ParDo(_SelectFn(self._settings, self._hygiene, self._trl_sets)).with_outputs(
            *tagged, DROPPED, DEAD_LETTER, main=SFT)
        return chains | "Select" >> guarded(SELECT.name, select)
