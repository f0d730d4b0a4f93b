"""SCRIPTED LOG-PROBABILITY PAYLOADS for unit tests: the OpenAI chat ``logprobs`` object a vLLM server would send
for given next-token distributions (no model: the distributions are the test's).

vLLM's shape is reproduced exactly: per position the sampled token first, then the top-k by rank, the first
``top`` of those listed (so a sampled token below rank k displaces the k-th), log probabilities at least -9999.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """One position's full next-token distribution (probabilities over a small vocabulary, summing to 1) and the
    index of the token sampled there; ``text`` is the sampled token's text."""

    probs: tuple[float, ...]
    sampled: int
    text: str

    def entropy(self) -> float:
        """The true entropy (nats)."""
        return -math.fsum(p * math.log(p) for p in self.probs if p > 0)


def normalized(weights: list[float]) -> tuple[float, ...]:
    total = math.fsum(weights)
    return tuple(w / total for w in weights)


def _name(position: Position, index: int) -> str:
    return position.text if index == position.sampled else f"alt{index}"


def vllm_entry(position: Position, top: int) -> dict:
    """One ``logprobs.content`` entry as vLLM's server lists it."""
    order = sorted(range(len(position.probs)), key=lambda i: -position.probs[i])
    listed = [position.sampled] + [i for i in order[:top] if i != position.sampled]
    return {"token": position.text, "logprob": max(math.log(position.probs[position.sampled]), -9999.0),
            "top_logprobs": [{"token": _name(position, i), "logprob": max(math.log(position.probs[i]), -9999.0)}
                             for i in listed[:top]]}


def vllm_logprobs(positions: list[Position], top: int) -> dict:
    """The ``choices[0].logprobs`` object for a chain of ``positions``."""
    return {"content": [vllm_entry(p, top) for p in positions]}


def confident(texts: list[str], p: float = 0.9, vocabulary: int = 4) -> list[Position]:
    """Each text sampled with probability ``p``, the rest spread evenly over ``vocabulary - 1`` other tokens."""
    rest = (1 - p) / (vocabulary - 1)
    return [Position((p, *([rest] * (vocabulary - 1))), 0, t) for t in texts]
