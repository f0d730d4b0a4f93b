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
from schemas.outputs import PREFERENCE_SCHEMA, REJECT_SCHEMA, RL_SCHEMA, SFT_SCHEMA
from schemas.problem import PROBLEM_SCHEMA

READ_COUNTS_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64())])


@dataclass(frozen=True)
class OutputSpec:
    """One output set: where it goes (under the output directory), its schema, key field and card line."""

    name: str
    schema: pa.Schema
    key: str
    description: str


RUN_OUTPUTS: tuple[OutputSpec, ...] = (
    OutputSpec("sft", SFT_SCHEMA, "id",
               "Chat `messages` (reasoning in `<think>…</think>`, then the answer) with `images`, one kept chain per problem."),
    OutputSpec("rl", RL_SCHEMA, "extra_info.id",
               "Problems in verl's RL layout (`prompt`, `images`, `reward_model.ground_truth`, `extra_info.pass_rate`)."),
    OutputSpec("preference", PREFERENCE_SCHEMA, "id",
               "Preference pairs in TRL's DPO layout (`prompt`, `images`, `chosen`, `rejected`)."),
    OutputSpec("dead_letter", REJECT_SCHEMA, "row_id",
               "Problems that failed (unreadable input, teacher error), with stage, reason and detail."),
    OutputSpec("dropped", REJECT_SCHEMA, "row_id",
               "Problems a stage decided against (duplicate, no correct chain), with stage, reason and detail."),
    OutputSpec("generations", GENERATION_SCHEMA, "problem_id",
               "Every sampled chain with its sampling plan, token counts, finish reason and verdict."),
)
READ_COUNTS_SET = OutputSpec("_meta/read_counts", READ_COUNTS_SCHEMA, "file",
                         "Rows read per source file, for the accounting identity (not a dataset config).")
PROBLEMS = OutputSpec("problems", PROBLEM_SCHEMA, "id", "Problems kept by `mmcot dedup`.")
DEDUP_OUTPUTS: tuple[OutputSpec, ...] = (PROBLEMS, *(s for s in RUN_OUTPUTS if s.name in ("dropped", "dead_letter")))

RUN_OUTPUT_NAMES: tuple[str, ...] = tuple(s.name for s in RUN_OUTPUTS)
DESCRIPTIONS: dict[str, str] = {s.name: s.description for s in (*RUN_OUTPUTS, PROBLEMS)}
