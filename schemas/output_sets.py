"""The one table of output sets: each set's directory name, record, key field, card line, trainer and order.

A set's Arrow schema (and its ``datasets`` features) is derived from its record (``schemas/derive.py``). The
pipeline writes every set of :data:`RUN_OUTPUTS` (``pipelines/build.py``), the manifest lists their shards, the
dataset card describes them (and names each trainer set's trainer), and a run clears them before it starts; adding
a set is its record plus one row here, and the stage that emits its rows under the set's name. ``key`` is the
(dotted) field a set's rows are sharded and ordered by.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.derive import arrow_schema
from schemas.generation import Generation
from schemas.outputs import PreferenceRow, RejectRow, RLRow, SFTRow, TRLPreferenceRow, TRLRLRow, TRLSFTRow
from schemas.problem import Problem
from schemas.source import ReadCount

TRAINERS = ("verl", "trl", "llamafactory")


@dataclass(frozen=True)
class OutputSpec:
    """One output set: where it goes (under the output directory), its record, key field and card line; ``trainer``
    is the trainer of ``output.trainers`` it is written for (None: every run writes it), ``ordered`` whether its rows
    are written in the curriculum order of ``select.rl_order``, numbered by ``extra_info.index``."""

    name: str
    record: type
    key: str
    description: str
    trainer: str | None = None
    ordered: bool = False

    def __post_init__(self):
        if self.trainer is not None and self.trainer not in TRAINERS:
            raise ValueError(f"output set {self.name!r}: unknown trainer {self.trainer!r}; known: {list(TRAINERS)}")

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema the set's shards are written with, derived from its record."""
        return arrow_schema(self.record)


PROBLEMS = OutputSpec("problems", Problem, "id",
                      "Every problem that reached the teacher stages (kept by dedup), exactly as normalized, images "
                      "included; a later round reads them back (`source.kind: mmcot`). `mmcot dedup` writes it alone.")

RUN_OUTPUTS: tuple[OutputSpec, ...] = (
    OutputSpec("sft", SFTRow, "id",
               "Chat `messages` (reasoning in `<think>…</think>`, then the answer) with `images`, one kept chain per "
               "problem; sharegpt with `<image>` tags (LLaMA-Factory `mmcot_sft`).", "llamafactory"),
    OutputSpec("rl", RLRow, "extra_info.id",
               "Problems in verl's RL layout (`prompt` with `<image>` tags, `images`, `data_source`, "
               "`reward_model.ground_truth`, `extra_info`: index, answer type, choices, unit, pass rate, difficulty), "
               "in curriculum order.", "verl", ordered=True),
    OutputSpec("preference", PreferenceRow, "id",
               "Preference pairs in LLaMA-Factory's sharegpt ranking layout (`messages`, single-message `chosen` and "
               "`rejected`, `images`; `mmcot_preference`).", "llamafactory"),
    OutputSpec("sft_trl", TRLSFTRow, "id",
               "The `sft` rows for TRL's `SFTTrainer`: `messages` as typed content parts, `images`.", "trl"),
    OutputSpec("rl_trl", TRLRLRow, "extra_info.id",
               "The `rl` rows for TRL's `GRPOTrainer`: `prompt` as typed content parts, the same reward columns and order.",
               "trl", ordered=True),
    OutputSpec("preference_trl", TRLPreferenceRow, "id",
               "The `preference` pairs for TRL's `DPOTrainer`: `prompt`, `chosen`, `rejected` as typed content parts, "
               "`images`.", "trl"),
    OutputSpec("dead_letter", RejectRow, "row_id",
               "Problems that failed (unreadable input, teacher error), with stage, reason and detail."),
    OutputSpec("dropped", RejectRow, "row_id",
               "Problems a stage decided against (duplicate, no correct chain), with stage, reason and detail."),
    OutputSpec("generations", Generation, "problem_id",
               "Every sampled chain with its sampling plan, token counts, finish reason, verdict, the problem's "
               "assessment and the chain's score."),
    PROBLEMS,
)
TRL_SUFFIX = "_trl"  # TRL's twins of sft, rl and preference
TRAINER_SETS: dict[str, tuple[str, ...]] = {t: tuple(s.name for s in RUN_OUTPUTS if s.trainer == t) for t in TRAINERS}
"""The sets each trainer loads without conversion (`output.trainers`); every other set of RUN_OUTPUTS is always written."""
ORDERED_SETS = tuple(s.name for s in RUN_OUTPUTS if s.ordered)
READ_COUNTS_SET = OutputSpec("_meta/read_counts", ReadCount, "file",
                         "Rows read per source file, for the accounting identity (not a dataset config).")
DEDUP_OUTPUTS: tuple[OutputSpec, ...] = (PROBLEMS, *(s for s in RUN_OUTPUTS if s.name in ("dropped", "dead_letter")))

RUN_OUTPUT_NAMES: tuple[str, ...] = tuple(s.name for s in RUN_OUTPUTS)


def trainer_of(name: str) -> str | None:
    """The trainer a set is written for (None: every run writes it)."""
    return next((s.trainer for s in RUN_OUTPUTS if s.name == name), None)


def written_sets(trainers: list[str]) -> tuple[str, ...]:
    """The sets of RUN_OUTPUTS a run for ``trainers`` writes, in table order."""
    return tuple(n for n in RUN_OUTPUT_NAMES if trainer_of(n) is None or trainer_of(n) in trainers)


DESCRIPTIONS: dict[str, str] = {s.name: s.description for s in RUN_OUTPUTS}
