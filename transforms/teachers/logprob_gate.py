"""The reply gate's rules for token log probabilities: any backend's payload becomes a bounded
:class:`~schemas.signals.TokenLogprobs`, or a reason word.

Two shapes are read. The OpenAI chat shape (``choices[0].logprobs``: ``{"content": [{"token", "logprob",
"top_logprobs": [{"token", "logprob"}, …]}, …]}``) is what vLLM's server and the batch backends send and what
the in-process engine's output is turned into; the compact :class:`TokenLogprobs` (``{"tokens", "logprobs",
"top"}``) is what the response cache holds. Both are untrusted. A payload is refused whole, with the reason
``missing`` (asked for, none sent), ``bad_shape`` (a field of the wrong type, lists of different lengths),
``too_many`` (more than :data:`MAX_POSITIONS` positions, or more alternatives at one than were asked for; the
cache's form may add the sampled token),
``bad_token`` (a token text that is no string, longer than :data:`MAX_TOKEN_CHARS` or holding a lone
surrogate), ``bad_number`` (a log probability that is not a finite real number at most :data:`LOGPROB_SLACK`)
or ``bad_mass`` (the listed alternatives' probabilities sum past 1 + :data:`MASS_SLACK`). A refused payload
makes the chain's signals unknown; the chain itself is kept.

What is kept: the sampled token's text and log probability, and the log probabilities of the distinct tokens
listed at each position (the sampled one added when the list lacks it: vLLM lists the sampled token first, and
with top-k sampling off it can lie outside the top k), highest first, each rounded to :data:`DECIMALS` decimals
and at least :data:`FLOOR` (vLLM's own stand-in for minus infinity). The alternatives' texts are dropped.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from schemas.signals import TokenLogprobs

MAX_POSITIONS = 131_072  # past any chain's length; 2^17 positions of top-20 is a few MB in the cache
MAX_TOKEN_CHARS = 256
LOGPROB_SLACK = 1e-3  # a log probability this far above 0 is rounding; it is kept as 0
MASS_SLACK = 1e-2
FLOOR = -9999.0
DECIMALS = 4
REASONS = ("missing", "bad_shape", "too_many", "bad_token", "bad_number", "bad_mass")
_SURROGATE = re.compile("[\ud800-\udfff]")


class LogprobsRefused(ValueError):
    """A log-probability payload the gate refuses; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _token(value: Any) -> str:
    if not isinstance(value, str):
        raise LogprobsRefused("bad_token", f"a token is a {type(value).__name__}, not text")
    if len(value) > MAX_TOKEN_CHARS:
        raise LogprobsRefused("bad_token", f"a token of {len(value)} characters (at most {MAX_TOKEN_CHARS})")
    if _SURROGATE.search(value):
        raise LogprobsRefused("bad_token", "a token holds a lone surrogate")
    return value


def _logprob(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LogprobsRefused("bad_number", f"a log probability is a {type(value).__name__}, not a number")
    if not math.isfinite(value) or value > LOGPROB_SLACK:
        raise LogprobsRefused("bad_number", f"a log probability of {value!r} (finite, at most 0)")
    return round(max(min(float(value), 0.0), FLOOR), DECIMALS)


def _list(value: Any, name: str) -> list:
    if not isinstance(value, list):
        raise LogprobsRefused("bad_shape", f"{name} is a {type(value).__name__}, not a list")
    return value


def _distribution(listed: list[float], position: int) -> list[float]:
    """The listed log probabilities highest first, refused when their probabilities sum past 1."""
    mass = math.fsum(math.exp(lp) for lp in listed)
    if mass > 1 + MASS_SLACK:
        raise LogprobsRefused("bad_mass", f"the alternatives at position {position} hold probability {mass:.4f}")
    return sorted(listed, reverse=True)


def _from_openai(content: Any, top: int) -> TokenLogprobs:
    if content is None:
        raise LogprobsRefused("missing", "logprobs.content is null")
    positions = _list(content, "logprobs.content")
    if len(positions) > MAX_POSITIONS:
        raise LogprobsRefused("too_many", f"{len(positions)} positions (at most {MAX_POSITIONS})")
    tokens, logprobs, tops = [], [], []
    for i, item in enumerate(positions):
        if not isinstance(item, dict):
            raise LogprobsRefused("bad_shape", f"position {i} is a {type(item).__name__}, not an object")
        token, logprob = _token(item.get("token")), _logprob(item.get("logprob"))
        alternatives = _list(item.get("top_logprobs") or [], f"top_logprobs at position {i}")
        if len(alternatives) > top:
            raise LogprobsRefused("too_many", f"{len(alternatives)} alternatives at position {i} (asked for {top})")
        listed, sampled_listed = [], False
        for alt in alternatives:
            if not isinstance(alt, dict):
                raise LogprobsRefused("bad_shape", f"an alternative at position {i} is a {type(alt).__name__}")
            alt_token, alt_logprob = _token(alt.get("token")), _logprob(alt.get("logprob"))
            sampled_listed = sampled_listed or (alt_token == token and alt_logprob == logprob)
            listed.append(alt_logprob)
        if not sampled_listed:
            listed.append(logprob)
        tokens.append(token)
        logprobs.append(logprob)
        tops.append(_distribution(listed, i))
    return TokenLogprobs(tokens, logprobs, tops)


def _from_compact(value: dict[str, Any], top: int) -> TokenLogprobs:
    tokens, logprobs, tops = (_list(value.get(k), k) for k in ("tokens", "logprobs", "top"))
    if not len(tokens) == len(logprobs) == len(tops):
        raise LogprobsRefused("bad_shape", f"{len(tokens)} tokens, {len(logprobs)} log probabilities, {len(tops)} lists")
    if len(tokens) > MAX_POSITIONS:
        raise LogprobsRefused("too_many", f"{len(tokens)} positions (at most {MAX_POSITIONS})")
    out = TokenLogprobs([_token(t) for t in tokens], [_logprob(lp) for lp in logprobs], [])
    for i, listed in enumerate(tops):
        listed = [_logprob(lp) for lp in _list(listed, f"top at position {i}")]
        if len(listed) > top + 1:
            raise LogprobsRefused("too_many", f"{len(listed)} alternatives at position {i} (asked for {top})")
        if out.logprobs[i] not in listed:
            raise LogprobsRefused("bad_shape", f"the sampled token at position {i} is not among its alternatives")
        out.top.append(_distribution(listed, i))
    return out


def gated_logprobs(value: Any, top: int) -> TokenLogprobs:
    """``value`` (either shape, or a TokenLogprobs) checked and bounded; raises :class:`LogprobsRefused`."""
    if isinstance(value, TokenLogprobs):
        value = dataclasses.asdict(value)
    if value is None:
        raise LogprobsRefused("missing", "no logprobs in the reply")
    if not isinstance(value, dict):
        raise LogprobsRefused("bad_shape", f"logprobs is a {type(value).__name__}, not an object")
    if "content" in value:
        return _from_openai(value["content"], top)
    if "tokens" in value:
        return _from_compact(value, top)
    raise LogprobsRefused("bad_shape", "logprobs has neither content nor tokens")
