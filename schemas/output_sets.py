"""The one table of output sets: each set's directory name, Arrow schema, key field and description.

The pipeline writes every set of :data:`RUN_OUTPUTS` (``pipelines/build.py``), the manifest lists
their shards, the dataset card describes them, and a run clears them before it starts; adding a
set is one row here plus the PCollection that feeds it. ``key`` is the (dotted) field a set's
rows are sharded and ordered by.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.generation import GENERATION_SCHEMA
from schemas.outputs import (
    PREFERENCE_SCHEMA,
    PREFERENCE_TRL_SCHEMA,
    REJECT_SCHEMA,
    RL_SCHEMA,
    RL_TRL_SCHEMA,
    SFT_SCHEMA,
    SFT_TRL_SCHEMA,
)
from schemas.problem import PROBLEM_SCHEMA

READ_COUNTS_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64()), ("source", pa.string()),
                                ("sampled_out", pa.int64())])


@dataclass(frozen=True)
class OutputSpec:
    """One output set: where it goes (under the output directory), its schema, key field and card line."""

    name: str
    schema: pa.Schema
    key: str
    description: str


PROBLEMS = OutputSpec("problems", PROBLEM_SCHEMA, "id",
                      "Every problem that reached the teacher stages (kept by dedup), exactly as normalized, images "
                      "included; a later round reads them back (`source.kind: mmcot`). `mmcot dedup` writes it alone.")

RUN_OUTPUTS: tuple[OutputSpec, ...] = (
    OutputSpec("sft", SFT_SCHEMA, "id",
               "Chat `messages` (reasoning in `<think>…</think>`, then the answer) with `images`, one kept chain per "
               "problem; sharegpt with `<image>` tags (LLaMA-Factory `mmcot_sft`)."),
    OutputSpec("rl", RL_SCHEMA, "extra_info.id",
               "Problems in verl's RL layout (`prompt` with `<image>` tags, `images`, `data_source`, "
               "`reward_model.ground_truth`, `extra_info`: index, answer type, choices, unit, pass rate, difficulty), "
               "in curriculum order."),
    OutputSpec("preference", PREFERENCE_SCHEMA, "id",
               "Preference pairs in LLaMA-Factory's sharegpt ranking layout (`messages`, single-message `chosen` and "
               "`rejected`, `images`; `mmcot_preference`)."),
    OutputSpec("sft_trl", SFT_TRL_SCHEMA, "id",
               "The `sft` rows for TRL's `SFTTrainer`: `messages` as typed content parts, `images`."),
    OutputSpec("rl_trl", RL_TRL_SCHEMA, "extra_info.id",
               "The `rl` rows for TRL's `GRPOTrainer`: `prompt` as typed content parts, the same reward columns and order."),
    OutputSpec("preference_trl", PREFERENCE_TRL_SCHEMA, "id",
               "The `preference` pairs for TRL's `DPOTrainer`: `prompt`, `chosen`, `rejected` as typed content parts, "
               "`images`."),
    OutputSpec("dead_letter", REJECT_SCHEMA, "row_id",
               "Problems that failed (unreadable input, teacher error), with stage, reason and detail."),
    OutputSpec("dropped", REJECT_SCHEMA, "row_id",
               "Problems a stage decided against (duplicate, no correct chain), with stage, reason and detail."),
    OutputSpec("generations", GENERATION_SCHEMA, "problem_id",
               "Every sampled chain with its sampling plan, token counts, finish reason, verdict, the problem's "
               "assessment and the chain's score."),
    PROBLEMS,
)
TRL_SUFFIX = "_trl"  # TRL's twins of sft, rl and preference
TRAINER_SETS: dict[str, tuple[str, ...]] = {
    "verl": ("rl",),
    "trl": ("sft_trl", "rl_trl", "preference_trl"),
    "llamafactory": ("sft", "preference"),
}
"""The sets each trainer loads without conversion (`output.trainers`); every other set of RUN_OUTPUTS is always written."""
ORDERED_SETS = ("rl", "rl_trl")  # written in the curriculum order of select.rl_order, numbered by extra_info.index
READ_COUNTS_SET = OutputSpec("_meta/read_counts", READ_COUNTS_SCHEMA, "file",
                         "Rows read per source file, for the accounting identity (not a dataset config).")
DEDUP_OUTPUTS: tuple[OutputSpec, ...] = (PROBLEMS, *(s for s in RUN_OUTPUTS if s.name in ("dropped", "dead_letter")))

RUN_OUTPUT_NAMES: tuple[str, ...] = tuple(s.name for s in RUN_OUTPUTS)


def trainer_of(name: str) -> str | None:
    """The trainer a set is written for (None: every run writes it)."""
    return next((t for t, names in TRAINER_SETS.items() if name in names), None)


def written_sets(trainers: list[str]) -> tuple[str, ...]:
    """The sets of RUN_OUTPUTS a run for ``trainers`` writes, in table order."""
    return tuple(n for n in RUN_OUTPUT_NAMES if trainer_of(n) is None or trainer_of(n) in trainers)
DESCRIPTIONS: dict[str, str] = {s.name: s.description for s in RUN_OUTPUTS}
