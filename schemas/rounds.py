"""The cross-round summary ``mmcot rounds`` writes (``rounds.json``): each round's funnel, rescues and tokens."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from schemas.convert import from_row, to_row


@dataclass
class RoundSummary:
    """One finished round: where it went, what it read and kept, what it rescued, what it cost.

    ``takes`` names the earlier round and outcomes it read (empty for a round on the base sources);
    ``taken`` is how many problems that round had with those outcomes (by its manifest), which must equal
    ``read``; ``prompt_tokens`` and ``completion_tokens`` are the new tokens of the teacher's chains,
    ``helper_tokens_*`` those of the judges', repairer's and scorer's calls (from the job's metrics; None
    when the runner reports none); ``rescued`` counts kept problems the earlier round had not kept. ``config_hash`` is the
    round's config before any teacher URL was filled in, ``source_run_id`` the run it read: a later
    invocation reruns the round when either changed. ``ran`` is False when this invocation found it finished.
    """

    name: str
    iteration: int
    output_dir: str
    config_hash: str
    run_id: str
    read: int
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    takes: str = ""
    taken: int | None = None
    source_run_id: str = ""
    rescued: int = 0
    rl_rows: int = 0
    preference_pairs: int = 0
    chains: int = 0
    chains_from_cache: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    helper_tokens_in: int | None = None
    helper_tokens_out: int | None = None
    chain_scores: dict[str, int] = field(default_factory=dict)
    balanced: bool = True
    ran: bool = True

    def adds_up(self) -> bool:
        """The round's own identity holds, and it read exactly what it took from the earlier round."""
        return self.balanced and (self.taken is None or self.taken == self.read)


@dataclass
class RoundsSummary:
    """Every round in order, and how many distinct problems any round kept."""

    name: str
    rounds: list[RoundSummary] = field(default_factory=list)
    kept_total: int = 0

    def adds_up(self) -> bool:
        """Every round adds up."""
        return all(r.adds_up() for r in self.rounds)

    def to_json(self) -> str:
        return json.dumps(to_row(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RoundsSummary:
        return from_row(cls, json.loads(text))
