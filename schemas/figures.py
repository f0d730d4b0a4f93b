"""The run's figures as the pipeline's workers write them under ``_meta/``: small JSON files, one record each.

The launcher renders the manifest, the card and ``report.html`` from these files (a worker draws the plots) and the
bounded row sample under ``_meta/sample/``; it never reads a data shard (DESIGN "Run figures").
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar

from schemas.convert import from_row, to_row
from schemas.manifest import BandStats, ChainSignalStats, Counts, ShardInfo, ShardRange, SourceCounts

META_DIR = "_meta"
FUNNEL_FILE = f"{META_DIR}/funnel.json"
CHAINS_FILE = f"{META_DIR}/chains.json"
SHARDS_FILE = f"{META_DIR}/shards.json"
SAMPLE_FILE = f"{META_DIR}/sample.json"
SAMPLE_DIR = f"{META_DIR}/sample"
QUANTILE_POINTS = 21
"""Token quantiles kept per band for the plots: minimum, every 5th percentile, maximum."""

T = TypeVar("T")


def sample_shard(name: str) -> str:
    """The one file of set ``name``'s rows in the sample, relative to the output directory (Hugging Face naming)."""
    return f"{SAMPLE_DIR}/{name}/train-00000-of-00001.parquet"


def dumps(record) -> str:
    """A figures record as pretty, key-sorted JSON."""
    return json.dumps(to_row(record), indent=2, sort_keys=True) + "\n"


def loads(cls: type[T], text: str) -> T:
    """A figures record of ``cls`` from :func:`dumps` output."""
    return from_row(cls, json.loads(text))


@dataclass
class FunnelFigures:
    """Each source's funnel (``_meta/funnel.json``): rows read and sampled out, kept, rejects by ``stage/reason``."""

    by_source: dict[str, SourceCounts] = field(default_factory=dict)

    def counts(self) -> Counts:
        """The run's funnel: totals over the sources, and each source's."""
        dropped: dict[str, int] = {}
        dead: dict[str, int] = {}
        for c in self.by_source.values():
            for total, part in ((dropped, c.dropped), (dead, c.dead_lettered)):
                for key, n in part.items():
                    total[key] = total.get(key, 0) + n
        return Counts(read=sum(c.read for c in self.by_source.values()), kept=sum(c.kept for c in self.by_source.values()),
                      dropped=dict(sorted(dropped.items())), dead_lettered=dict(sorted(dead.items())),
                      by_source=dict(sorted(self.by_source.items())))


@dataclass
class ChainPoint:
    """One chain of the length plot: its problem's difficulty, its length, whether it was correct or a repair."""

    difficulty: float
    tokens: int
    correct: bool = False
    repaired: bool = False


@dataclass
class BandLengths:
    """A band's completion-token quantiles (:data:`QUANTILE_POINTS` of them, minimum to maximum) for the box plot:
    of the teacher's samples and of the kept chains (empty when none)."""

    name: str
    sampled: list[float] = field(default_factory=list)
    kept: list[float] = field(default_factory=list)


@dataclass
class ChainFigures:
    """What the chains say (``_meta/chains.json``): totals (chains, cache use, tokens, verdicts), the bands, the
    length plots' data (per-band quantiles and a bounded sample of chain and kept points) and ``plots``, the PNGs a
    worker drew from them (paths relative to the output directory; the signals' plot is ``signals.plot``).

    ``chains`` and ``kept`` count every chain and kept row; ``points`` and ``kept_points`` hold at most
    ``point_limit`` of each, a uniform sample by hash when there are more. ``signals``: the chains' signals from
    token probabilities, correct against wrong (None when no chain carries any: ``teacher.logprobs`` off).
    """

    stats: dict[str, int] = field(default_factory=dict)
    bands: list[BandStats] = field(default_factory=list)
    lengths: list[BandLengths] = field(default_factory=list)
    points: list[ChainPoint] = field(default_factory=list)
    kept_points: list[ChainPoint] = field(default_factory=list)
    chains: int = 0
    kept: int = 0
    point_limit: int = 0
    quantile_epsilon: float = 0.0
    signals: ChainSignalStats | None = None
    plots: list[str] = field(default_factory=list)


@dataclass
class SetFigures:
    """One written set: its ``datasets`` features (as ``Features.to_dict()``; None with ``unloadable`` saying why
    ``datasets`` cannot represent its schema) and its uncompressed data size from the Parquet footers."""

    name: str
    data_bytes: int = 0
    features: dict | None = None
    unloadable: str | None = None


@dataclass
class ShardFigures:
    """Every written shard (``_meta/shards.json``) with rows, bytes and sha256 as a worker read them off the file
    after the write, each set's features, and the ranges of the curriculum-ordered shards."""

    shards: list[ShardInfo] = field(default_factory=list)
    sets: list[SetFigures] = field(default_factory=list)
    curriculum: list[ShardRange] = field(default_factory=list)


@dataclass
class SampleFigures:
    """The bounded row sample under ``_meta/sample/`` (``_meta/sample.json``): every row of the sampled problems in
    every set, the ``limit`` problems whose id hashes lowest plus one problem of each non-empty set (so every set
    has an example)."""

    problems: int = 0
    limit: int = 0
    sets: dict[str, int] = field(default_factory=dict)
    method: str = "the problems whose id hashes lowest (sha1): a uniform sample, the same on every run"


ROUNDS_FILE = f"{META_DIR}/rounds.json"


@dataclass
class RoundsFigures:
    """What the rounds' outcomes say across rounds (``_meta/rounds.json`` under the rounds' output directory):
    ``rescued``, by round that takes an earlier round's problems, counts problems it kept that the earlier round had
    not; ``kept_total`` counts the problems any round kept."""

    rescued: dict[str, int] = field(default_factory=dict)
    kept_total: int = 0
