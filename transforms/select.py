"""Select stage: keep the shortest correct chain; route problems to SFT, RL and dropped.

A problem with no correct chain is dropped (reason ``no_correct_chain``, with the chains'
reject reasons in the detail). RL rows keep problems whose pass rate lies strictly between
the configured bounds (R1V2's selective sample buffer: groups where every sample agrees carry
no advantage).
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
from transforms.rows import rl_row, sft_row
from transforms.tags import DROPPED

RL = "rl"


class SelectSettings(Settings):
    """Which chain to keep and which problems make RL rows (pass rate strictly inside the bounds)."""

    strategy: Literal["shortest_correct"] = "shortest_correct"
    rl_min_pass_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    rl_max_pass_rate: float = Field(default=1.0, ge=0.0, le=1.0)


def shortest_correct(generations: list[Generation]) -> Generation | None:
    """The correct chain with the fewest completion tokens (ties: lowest sample index), never a marked duplicate."""
    correct = [g for g in generations if g.verdict and g.verdict.correct and g.duplicate_of is None]
    return min(correct, key=lambda g: (g.completion_tokens, g.sample_index), default=None)


def reject_summary(generations: list[Generation]) -> str:
    """Counts of the chains' reject reasons, e.g. ``wrong_answer×3, truncated×1``."""
    counts = Counter(r for g in generations if g.verdict for r in g.verdict.reasons)
    return ", ".join(f"{reason}×{n}" for reason, n in counts.most_common())


def wants_rl(pass_rate: float, settings: SelectSettings) -> bool:
    """Whether a problem with this pass rate becomes an RL row."""
    return settings.rl_min_pass_rate < pass_rate < settings.rl_max_pass_rate


class _SelectFn(beam.DoFn):
    def __init__(self, settings: SelectSettings):
        self._settings = settings
        self._kept = Metrics.counter("select", "kept")
        self._dropped = Metrics.counter("select", "no_correct_chain")

    def process(self, chains: ProblemChains):
        if wants_rl(chains.pass_rate, self._settings):
            yield beam.pvalue.TaggedOutput(RL, rl_row(chains))
        chosen = shortest_correct(chains.generations)
        if chosen is None:
            self._dropped.inc()
            problem = chains.planned.problem
            yield beam.pvalue.TaggedOutput(
                DROPPED,
                RejectRow(
                    row_id=problem.id,
                    source=problem.source,
                    stage="select",
                    reason="no_correct_chain",
                    detail=reject_summary(chains.generations),
                ),
            )
            return
        self._kept.inc()
        yield sft_row(chains, chosen, f"{self._settings.strategy} of {len(chains.generations)}")


class SelectChains(beam.PTransform):
    """Verified ProblemChains → SFT rows (main), RL rows and dropped problems."""

    def __init__(self, settings: SelectSettings):
        super().__init__()
        self._settings = settings

    def expand(self, chains):
        return chains | "Select" >> beam.ParDo(_SelectFn(self._settings)).with_outputs(RL, DROPPED, main="sft")
