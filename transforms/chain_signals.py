"""Chain signals from the teacher's token probabilities (R1V3's critical-token entropy and three more), computed once
per chain by the generate stage from the gated :class:`~schemas.signals.TokenLogprobs`.

**Entropy from a truncated top-k.** A server lists only the k most likely tokens per position (plus the sampled
one), so the entropy of the next-token distribution is estimated. With ``L`` the listed tokens' probabilities
and ``r = 1 - sum(L)`` the unlisted mass, each unlisted token is at most ``r`` and at most as likely as the least
likely listed alternative other than the sampled token (the sampled token may rank below the top k: vLLM lists it
first and drops the k-th); with ``c`` the smaller of the two, ``H >= -sum(p ln p for p in L) + r ln(1/c)``. That
bound is the estimate: exact when the listed tokens hold all the mass, never above the true entropy, and never
falling as k grows. ``r ln(1/c)`` is capped at ``r ln(V/r)`` for a vocabulary of :data:`VOCAB_BOUND` tokens (only
inconsistent lists reach the cap).
The probabilities are the model's own (vLLM's default ``raw_logprobs``: before temperature, top-p and penalties).

**Critical tokens** are positions whose sampled token's text, whitespace-stripped and lower-cased, is on the list
(``teacher.logprobs.critical_tokens``), and the first token of the answer span (``answer_start``).

**The answer span** is found in the chain's own token text (the tokens joined: the reasoning too when a server's
reasoning parser split it off): in the final part (after the last ``</think>``), the inside of the last
top-level ``\\boxed{}``; without a box, the text after the last answer marker (``The answer is`` …, as the
verifier reads it); else the last non-empty line. An empty or unclosed last box has no span. Its tokens are those
overlapping it.
"""
from __future__ import annotations

import bisect
import math
from itertools import accumulate

from schemas.generation import Generation
from schemas.signals import SIGNAL_NAMES, ChainSignals, ProblemSignals, TokenLogprobs
from transforms.teachers.settings import LogprobSettings
from transforms.verifiers.extract import marked_answer, top_level_boxes
from transforms.verifiers.segments import CLOSE_TAG

VOCAB_BOUND = 2**18  # above every common vocabulary (Llama 3 128k, Qwen 152k, Gemma 256k)


def position_entropy(top: list[float], sampled: float) -> float:
    """The entropy estimate (nats) of one position from its listed log probabilities (highest first, the sampled
    token's ``sampled`` among them); see the module docstring."""
    known = -math.fsum(math.exp(lp) * lp for lp in top)
    residual = 1.0 - math.fsum(math.exp(lp) for lp in top)
    if residual <= 0:
        return max(known, 0.0)
    others = list(top)
    if sampled in others:
        others.remove(sampled)
    surprise = max(-min(others, default=0.0), -math.log(residual))
    return known + residual * min(surprise, math.log(VOCAB_BOUND / residual))


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def answer_span(text: str) -> tuple[int, int] | None:
    """Where the answer is in ``text`` (character offsets, whitespace stripped), or None; see the module docstring."""
    close = text.rfind(CLOSE_TAG)
    base = close + len(CLOSE_TAG) if close >= 0 else 0
    final = text[base:]
    last = None
    for last in top_level_boxes(final):  # noqa: B007 - the last box decides
        pass
    if last is not None:
        box, start = last
        if box.status != "ok":
            return None
        inner = final.find(box.content, start)
        return _stripped(text, base + inner, base + inner + len(box.content))
    marked = marked_answer(final)
    if marked:
        at = final.rfind(marked)
        if at >= 0:
            return _stripped(text, base + at, base + at + len(marked))
    end = len(final.rstrip())
    return _stripped(text, base + final.rfind("\n", 0, end) + 1, base + end)


def answer_positions(tokens: list[str]) -> list[int]:
    """The positions of the tokens that overlap the answer span of their joined text (empty tokens left out)."""
    ends = list(accumulate(len(t) for t in tokens))
    span = answer_span("".join(tokens))
    if span is None:
        return []
    start, end = span
    positions = []
    for i in range(bisect.bisect_right(ends, start), len(tokens)):
        if ends[i] - len(tokens[i]) >= end:
            break
        if tokens[i]:
            positions.append(i)
    return positions


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def chain_signals(data: TokenLogprobs, settings: LogprobSettings) -> ChainSignals:
    """The chain's signals from its token log probabilities under ``settings`` (critical tokens, low confidence)."""
    entropies = [position_entropy(top, lp) for top, lp in zip(data.top, data.logprobs)]
    answer = answer_positions(data.tokens)
    critical_words = set(settings.critical_tokens)
    critical = {i for i, t in enumerate(data.tokens) if t.strip().lower() in critical_words}
    if settings.answer_start and answer:
        critical.add(answer[0])
    low = math.log(settings.low_confidence)
    return ChainSignals(
        tokens=len(data.tokens),
        mean_entropy=_mean(entropies),
        critical_tokens=len(critical),
        critical_entropy=_mean([entropies[i] for i in sorted(critical)]),
        answer_tokens=len(answer),
        answer_logprob=_mean([data.logprobs[i] for i in answer]),
        low_confidence_share=(sum(lp < low for lp in data.logprobs) / len(data.logprobs)) if data.logprobs else None,
    )


def problem_signals(generations: list[Generation]) -> ProblemSignals | None:
    """The means of each signal over a problem's teacher chains whose signals are known (None when none has any)."""
    known = [g.signals for g in generations if g.provenance == "teacher" and g.signals is not None
             and g.signals.unknown is None]
    if not known:
        return None
    return ProblemSignals(chains=len(known), **{
        name: _mean([v for s in known if (v := getattr(s, name)) is not None]) for name in SIGNAL_NAMES})
