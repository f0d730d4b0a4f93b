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
from transforms.dedup import DedupProblems, MarkDuplicateChains
from transforms.generate import GenerateChains
from transforms.length import PlanLength
from transforms.normalize import NormalizeProblems
from transforms.read import ReadProblems
from transforms.select import RL, SelectChains
from transforms.tags import DEAD_LETTER, DROPPED, READ_COUNTS
from transforms.verify import VerifyChains
from transforms.write import WriteShards

READ_COUNTS_SCHEMA = pa.schema([("file", pa.string()), ("rows", pa.int64())])
READ_COUNTS_DIR = "_meta/read_counts"
KEY_FIELDS = {"sft": "id", "rl": "extra_info.id", "dead_letter": "row_id", "dropped": "row_id", "generations": "problem_id"}


@dataclass(frozen=True)
class Endpoints:
    """Run-time places the config does not fix: the live teacher URL and the response cache."""

    teacher_base_url: str
    cache_url: str


def build_pipeline(p: beam.Pipeline, config: PipelineConfig, endpoints: Endpoints) -> None:
    """Add the whole read → … → write graph to ``p``."""
    read = p | "Read" >> ReadProblems(config.source)
    rows = read.rows | "Spread" >> beam.Reshuffle()
    normalized = rows | "Normalize" >> NormalizeProblems(config.normalize)
    deduped = normalized.problems | "Dedup" >> DedupProblems(config.dedup)
    planned = deduped["kept"] | "Assess" >> Assess(config.assess) | "PlanLength" >> PlanLength(config.length)
    generated = planned | "Generate" >> GenerateChains(config.teacher, endpoints.teacher_base_url, endpoints.cache_url)
    verified = generated.chains | "Verify" >> VerifyChains(config.verify)
    if config.dedup.chains.enabled:
        verified = verified | "DedupChains" >> MarkDuplicateChains(config.dedup.chains)
    selected = verified | "Select" >> SelectChains(config.select)

    outputs = {
        "sft": selected.sft,
        "rl": selected[RL],
        DEAD_LETTER: (read[DEAD_LETTER], normalized[DEAD_LETTER], generated[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten(),
        DROPPED: (deduped[DROPPED], selected[DROPPED]) | "AllDropped" >> beam.Flatten(),
        "generations": verified | "Chains" >> beam.FlatMap(lambda chains: chains.generations),
    }
    schemas = {**OUTPUT_SCHEMAS, "generations": GENERATION_SCHEMA}
    out = config.run.output_dir
    for name, pcoll in outputs.items():
        pcoll | f"Write_{name}" >> WriteShards(
            posixpath.join(out, name), schemas[name], KEY_FIELDS[name], config.output.num_shards(name)
        )
    read[READ_COUNTS] | "Write_read_counts" >> WriteShards(
        posixpath.join(out, READ_COUNTS_DIR), READ_COUNTS_SCHEMA, "file", 1
    )
