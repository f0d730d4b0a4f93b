"""Pipeline assembly: the stages wired together, every side output routed to its Parquet set."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa

from pipelines.config import PipelineConfig
from schemas.generation import GENERATION_SCHEMA
from schemas.outputs import OUTPUT_SCHEMAS
from transforms.assess import Assess
from transforms.curriculum import order_key, with_index
from transforms.dedup import DedupProblems, MarkDuplicateChains
from transforms.escalate import EscalateLowPassRate
from transforms.generate import GenerateChains
from transforms.judge import Judge
from transforms.length import PlanLength
from transforms.normalize import NormalizeProblems
from transforms.read import ReadProblems
from transforms.repair import RepairChains
from transforms.scores import ScaleScores
from transforms.select import PREFERENCE, RL, SelectChains
from transforms.teachers.settings import TeacherSettings
from transforms.tags import DEAD_LETTER, DROPPED, READ_COUNTS
from transforms.trl_rows import trl_preference_row, trl_rl_row, trl_sft_row
from transforms.verify import VerifyChains
from transforms.write import WriteShards, WriteSortedShards

READ_COUNTS_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64())])
READ_COUNTS_DIR = "_meta/read_counts"
KEY_FIELDS = {"sft": "id", "preference": "id", "sft_trl": "id", "preference_trl": "id",
              "dead_letter": "row_id", "dropped": "row_id", "generations": "problem_id"}
ORDERED_SETS = ("rl", "rl_trl")  # written in the curriculum order of select.rl_order, numbered by extra_info.index


@dataclass(frozen=True)
class Endpoints:
    """Run-time places the config does not fix: the live teacher URL (None: in-process engine) and the response cache."""

    teacher_base_url: str | None
    cache_url: str


def endpoint(settings: TeacherSettings | None, config: PipelineConfig, endpoints: Endpoints) -> tuple[TeacherSettings, str]:
    """A helper model's settings and URL: the run's teacher unless the section names its own."""
    chosen = settings or config.teacher
    return chosen, chosen.base_url or endpoints.teacher_base_url


def build_pipeline(p: beam.Pipeline, config: PipelineConfig, endpoints: Endpoints) -> None:
    """Add the whole read → … → write graph to ``p``."""
    cache = endpoints.cache_url
    read = p | "Read" >> ReadProblems(config.source)
    rows = read.rows | "Spread" >> beam.Reshuffle()
    normalized = rows | "Normalize" >> NormalizeProblems(config.normalize)
    deduped = normalized.problems | "Dedup" >> DedupProblems(config.dedup)
    assessed = deduped["kept"] | "Assess" >> Assess(config.assess)
    dropped = [deduped[DROPPED]]
    if config.judge is not None:
        judged = assessed | "Judge" >> Judge(config.judge, *endpoint(config.judge.endpoint, config, endpoints), cache)
        scaled = judged | "Scale" >> ScaleScores(config.assess.difficulty_from == "judge", config.assess.min_quality)
        assessed = scaled.pairs
        dropped.append(scaled[DROPPED])
    planned = assessed | "PlanLength" >> PlanLength(config.length)
    generated = planned | "Generate" >> GenerateChains(config.teacher, endpoints.teacher_base_url, cache)
    verified = generated.chains | "Verify" >> VerifyChains(config.verify)
    dead = [read[DEAD_LETTER], normalized[DEAD_LETTER], generated[DEAD_LETTER]]
    if config.length.policy == "pass_rate":
        escalated = verified | "Escalate" >> EscalateLowPassRate(
            config.length.probe, GenerateChains(config.teacher, endpoints.teacher_base_url, cache), VerifyChains(config.verify))
        verified = escalated["chains"]
        dead.append(escalated[DEAD_LETTER])
    if config.dedup.chains.enabled:  # on the teacher's samples, before any repair joins them
        verified = verified | "DedupChains" >> MarkDuplicateChains(config.dedup.chains)
    if config.repair.enabled:
        verified = verified | "Repair" >> RepairChains(
            config.repair, *endpoint(config.repair.endpoint, config, endpoints), cache, config.verify)
    selected = verified | "Select" >> SelectChains(config.select)
    dropped.append(selected[DROPPED])

    outputs = {
        "sft": selected.sft,
        "rl": selected[RL],
        "preference": selected[PREFERENCE],
        DEAD_LETTER: dead | "AllDeadLetters" >> beam.Flatten(),
        DROPPED: dropped | "AllDropped" >> beam.Flatten(),
        "generations": verified | "Chains" >> beam.FlatMap(lambda chains: chains.generations),
    }
    write_outputs(outputs, config)
    read[READ_COUNTS] | "Write_read_counts" >> WriteShards(
        posixpath.join(config.run.output_dir, READ_COUNTS_DIR), READ_COUNTS_SCHEMA, "file", 1
    )


def write_outputs(outputs: dict[str, beam.PCollection], config: PipelineConfig) -> None:
    """Write each output set (adding TRL's twins of sft/rl/preference when configured); RL sets in curriculum order."""
    outputs = dict(outputs)
    if config.output.trl_sets:
        outputs["sft_trl"] = outputs["sft"] | "TRL_sft" >> beam.Map(trl_sft_row)
        outputs["rl_trl"] = outputs["rl"] | "TRL_rl" >> beam.Map(trl_rl_row)
        outputs["preference_trl"] = outputs["preference"] | "TRL_preference" >> beam.Map(trl_preference_row)
    schemas = {**OUTPUT_SCHEMAS, "generations": GENERATION_SCHEMA}
    rl_order = order_key(config.select.rl_order)
    for name, pcoll in outputs.items():
        directory, shards = posixpath.join(config.run.output_dir, name), config.output.num_shards(name)
        if name in ORDERED_SETS:
            pcoll | f"Write_{name}" >> WriteSortedShards(directory, schemas[name], rl_order, with_index, shards)
        else:
            pcoll | f"Write_{name}" >> WriteShards(directory, schemas[name], KEY_FIELDS[name], shards)
