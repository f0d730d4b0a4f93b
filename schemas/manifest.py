"""The run manifest: what was read, what became of it, and which files hold the result."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from schemas.convert import from_row, to_row


@dataclass
class ShardInfo:
    """One written Parquet file, relative to the output directory."""

    config: str
    path: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class SourceCounts:
    """One source's funnel: rows read, kept, dropped and dead-lettered by "stage/reason";
    ``sampled_out`` counts the rows its ``weight`` left unread."""

    read: int
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    sampled_out: int = 0

    def balanced(self) -> bool:
        """Whether every read row is accounted for exactly once."""
        return self.read == self.kept + sum(self.dropped.values()) + sum(self.dead_lettered.values())


@dataclass
class Counts:
    """The problem-level funnel. ``dropped`` and ``dead_lettered`` map "stage/reason" to counts.

    The accounting identity ``read == kept + sum(dropped) + sum(dead_lettered)`` must hold, over
    the run and for each source in ``by_source``.
    """

    read: int
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, SourceCounts] = field(default_factory=dict)

    def balanced(self) -> bool:
        """Whether every read row is accounted for exactly once, in the run and per source."""
        total = self.read == self.kept + sum(self.dropped.values()) + sum(self.dead_lettered.values())
        return total and all(c.balanced() for c in self.by_source.values())


@dataclass
class Quantiles:
    """10th, 50th and 90th percentiles of a token count (None when there is nothing to measure)."""

    p10: float | None = None
    p50: float | None = None
    p90: float | None = None


@dataclass
class SignalStats:
    """A band's assessment signals and chain scores, read off ``generations/``.

    ``difficulty_sources`` counts the band's problems by where their difficulty came from; the
    ``*_mean`` figures are means over the problems that have the signal (None: none has it; judge
    scores on the run's normalized [0, 1] scale, ``quality`` the raw 1–5 mean); ``chain_scores``
    counts the scored chains by score (``"0"`` … ``"5"``), ``judge_models`` and ``scorers`` name the models.
    """

    difficulty_sources: dict[str, int] = field(default_factory=dict)
    judged: int = 0
    clarity_mean: float | None = None
    vision_score_mean: float | None = None
    text_score_mean: float | None = None
    integration_score_mean: float | None = None
    quality_mean: float | None = None
    judge_models: list[str] = field(default_factory=list)
    scored_chains: int = 0
    chain_score_mean: float | None = None
    chain_scores: dict[str, int] = field(default_factory=dict)
    scorers: list[str] = field(default_factory=list)


@dataclass
class SignalDistribution:
    """One chain signal over the correct or the wrong chains: how many have it, its mean (exact), its quantiles (read
    off ``counts``, to within a bin) and ``counts`` per bin of the figure's ``edges``."""

    n: int = 0
    mean: float | None = None
    quantiles: Quantiles = field(default_factory=Quantiles)
    counts: list[int] = field(default_factory=list)


@dataclass
class SignalFigure:
    """One signal's distributions for correct and wrong chains over shared bins (``edges``: bin boundaries; a value
    outside them counts in the first or last bin)."""

    name: str
    edges: list[float]
    correct: SignalDistribution = field(default_factory=SignalDistribution)
    wrong: SignalDistribution = field(default_factory=SignalDistribution)


@dataclass
class ChainSignalStats:
    """The teacher chains' signals from token probabilities (``teacher.logprobs``), correct against wrong (verifier's
    verdicts; unverifiable chains and repairs left out): ``chains`` with known signals, ``unknown`` chains by the
    reason they have none, ``figures`` one per signal, ``plot`` the distributions' PNG."""

    chains: int = 0
    unknown: dict[str, int] = field(default_factory=dict)
    figures: list[SignalFigure] = field(default_factory=list)
    plot: str | None = None


@dataclass
class BandStats:
    """One difficulty band of the length plan: its problems, their pass rate and chain lengths.

    ``pass_rate`` is the mean over the band's problems of the share of correct chains;
    ``chains``, ``pass_rate`` and ``tokens_all`` count the teacher's samples, ``repaired_chains`` the
    rewrites of wrong chains; ``tokens_kept`` measures the chains kept for SFT; ``signals`` holds the
    band's assessment signals and chain scores.
    """

    name: str
    problems: int
    chains: int
    correct_chains: int
    truncated_chains: int
    pass_rate: float
    kept: int
    difficulty_mean: float
    repaired_chains: int = 0
    tokens_all: Quantiles = field(default_factory=Quantiles)
    tokens_kept: Quantiles = field(default_factory=Quantiles)
    signals: SignalStats = field(default_factory=SignalStats)


@dataclass
class LatencyStats:
    """Teacher-request latency of one stage, in milliseconds: count, mean and range (exact) and
    quantiles (estimated from bucket counts, within their bucket)."""

    count: int
    mean_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class StageMetrics:
    """One stage's Beam counters (summed over its steps) and, for teacher-call stages, request latency."""

    counters: dict[str, int] = field(default_factory=dict)
    latency: LatencyStats | None = None


@dataclass
class RunMetrics:
    """The run's Beam metrics by stage namespace, queried after the job; ``available`` is False when
    the runner reports none (``note`` says which runner and why)."""

    available: bool
    note: str = ""
    stages: dict[str, StageMetrics] = field(default_factory=dict)


def usd(dollars: float) -> str:
    """Dollars as the summary and the card print them (to a millionth: a sample run costs cents)."""
    return f"${dollars:,.6f}"


@dataclass
class StageCost:
    """One priced teacher-call stage: dollars for its new calls and what its cache hits would have cost, and their tokens."""

    cost_usd: float
    cache_saved_usd: float
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens_in: int = 0
    cached_tokens_out: int = 0


@dataclass
class RunCost:
    """The run's teacher cost over the stages whose endpoint has a ``price`` (in US dollars)."""

    cost_usd: float
    cache_saved_usd: float
    stages: dict[str, StageCost] = field(default_factory=dict)


@dataclass
class ShardRange:
    """One RL shard in the written order: its rows' ``extra_info.index`` range and pass-rate / difficulty ranges."""

    path: str
    rows: int
    first_index: int
    last_index: int
    min_pass_rate: float
    max_pass_rate: float
    min_difficulty: float
    max_difficulty: float


@dataclass
class Curriculum:
    """The order RL rows were written in (``select.rl_order``), shard by shard."""

    order: str
    description: str
    shards: list[ShardRange] = field(default_factory=list)


@dataclass
class Manifest:
    """Everything needed to trust, reproduce and load a run's output."""

    run_id: str
    created_at: str
    command: str
    config_hash: str
    config: dict
    versions: dict[str, str]
    counts: Counts
    stats: dict[str, float]
    rows: dict[str, int]
    shards: list[ShardInfo]
    wall_time_s: float
    bands: list[BandStats] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    metrics: RunMetrics | None = None
    curriculum: Curriculum | None = None
    cost: RunCost | None = None
    chain_signals: ChainSignalStats | None = None

    def to_json(self) -> str:
        """Pretty, key-sorted JSON."""
        return json.dumps(to_row(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """A manifest from :meth:`to_json` output."""
        return from_row(cls, json.loads(text))
