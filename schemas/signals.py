"""Chain signals from the teacher's own token probabilities: the per-token data and the per-chain signals.

:class:`TokenLogprobs` is the compact form the reply gate turns any backend's log probabilities into
(``transforms/teachers/logprob_gate.py``): it is what the response cache holds and what a chain keeps
with ``teacher.logprobs.keep``. :class:`ChainSignals` are the figures computed once from it per chain
(``transforms/chain_signals.py``), persisted on every chain in ``generations/`` and with the rows;
:class:`ProblemSignals` is a problem's summary over its teacher chains (RL rows' ``extra_info``).
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.derive import Float32, Int32, arrow_type


@dataclass
class TokenLogprobs:
    """One chain's tokens as the teacher sampled them, with log probabilities (natural log).

    ``tokens[i]`` is the text of the i-th sampled token and ``logprobs[i]`` its log probability;
    ``top[i]`` holds the log probabilities of the distinct tokens the teacher listed at that position
    (its top-k alternatives, the sampled token included), highest first. The alternatives' texts are
    not kept: the signals need only their probabilities.
    """

    tokens: list[str]
    logprobs: list[Float32]
    top: list[list[Float32]]


TOKEN_LOGPROBS_TYPE: pa.StructType = arrow_type(TokenLogprobs)


@dataclass
class ChainSignals:
    """One chain's signals from its token probabilities (all entropies in nats, per token position).

    ``tokens`` positions had probabilities; ``mean_entropy`` is the mean entropy of the teacher's next-token
    distribution over them, estimated from the listed top-k (``transforms/chain_signals.py`` says how);
    ``critical_entropy`` the mean over the ``critical_tokens`` positions whose sampled token is on the
    configured list (or opens the answer), None when there is none; ``answer_logprob`` the mean log
    probability of the answer span's ``answer_tokens`` tokens (None: no answer span found);
    ``low_confidence_share`` the share of positions whose sampled token had a probability below
    ``teacher.logprobs.low_confidence``. ``unknown`` names why a chain whose signals were asked for has
    none (``logprobs_missing``, ``logprobs_bad_shape`` …; every figure is then empty); None otherwise.
    """

    tokens: Int32 = 0
    mean_entropy: float | None = None
    critical_tokens: Int32 = 0
    critical_entropy: float | None = None
    answer_tokens: Int32 = 0
    answer_logprob: float | None = None
    low_confidence_share: float | None = None
    unknown: str | None = None


CHAIN_SIGNALS_TYPE: pa.StructType = arrow_type(ChainSignals)
#: The per-chain figures a benchmark or a card compares between correct and wrong chains.
SIGNAL_NAMES = ("mean_entropy", "critical_entropy", "answer_logprob", "low_confidence_share")


@dataclass
class ProblemSignals:
    """A problem's signals over its teacher chains: each a mean over the ``chains`` whose signals are known
    (None when none has the figure)."""

    chains: Int32 = 0
    mean_entropy: float | None = None
    critical_entropy: float | None = None
    answer_logprob: float | None = None
    low_confidence_share: float | None = None
