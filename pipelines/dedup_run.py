"""``mmcot dedup``: the read → normalize → dedup stages alone, on files.

Writes ``problems/`` (kept problems, ``PROBLEM_SCHEMA``), ``dropped/`` (duplicates with their
survivor's id, contaminated problems with the benchmark item), ``dead_letter/`` (rows that could
not be read or normalized) and ``_meta/read_counts``, so read = kept + dropped + dead-lettered.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import apache_beam as beam

from pipelines.build import READ_COUNTS_DIR, READ_COUNTS_SCHEMA
from pipelines.manifest import list_shards, reason_counts, rows_read
from pipelines.run import clear_outputs
from pipelines.runners import pipeline_options
from schemas.outputs import REJECT_SCHEMA
from schemas.problem import PROBLEM_SCHEMA
from transforms.dedup import DedupProblems, DedupSettings
from transforms.normalize import NormalizeProblems, NormalizeSettings
from transforms.sources import ReadSources, SourceSettings, require_images_by_source
from transforms.tags import DEAD_LETTER, DROPPED, READ_COUNTS
from transforms.write import WriteShards

PROBLEMS_DIR = "problems"


@dataclass(frozen=True)
class DedupCounts:
    """What a dedup run did: rows read, kept, and ``stage/reason`` → rows dropped or dead-lettered."""

    read: int
    kept: int
    dropped: dict[str, int]
    dead_lettered: dict[str, int]

    def balanced(self) -> bool:
        """Whether every row read is kept, dropped or dead-lettered."""
        return self.read == self.kept + sum(self.dropped.values()) + sum(self.dead_lettered.values())


def build_dedup_pipeline(p: beam.Pipeline, sources: list[SourceSettings], normalize: NormalizeSettings,
                         dedup: DedupSettings, out: str, num_shards: int = 1) -> None:
    """Add read (every source) → normalize → dedup → write to ``p``."""
    read = p | "Read" >> ReadSources(sources)
    normalized = (read["rows"] | "Spread" >> beam.Reshuffle()
                  | "Normalize" >> NormalizeProblems(normalize, require_images_by_source(sources)))
    deduped = normalized.problems | "Dedup" >> DedupProblems(dedup)
    dead = (read[DEAD_LETTER], normalized[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten()
    deduped["kept"] | "Write_problems" >> WriteShards(posixpath.join(out, PROBLEMS_DIR), PROBLEM_SCHEMA, "id", num_shards)
    deduped[DROPPED] | "Write_dropped" >> WriteShards(posixpath.join(out, DROPPED), REJECT_SCHEMA, "row_id")
    dead | "Write_dead_letter" >> WriteShards(posixpath.join(out, DEAD_LETTER), REJECT_SCHEMA, "row_id")
    read[READ_COUNTS] | "Write_read_counts" >> WriteShards(posixpath.join(out, READ_COUNTS_DIR), READ_COUNTS_SCHEMA, "file")


def run_dedup(sources: list[SourceSettings], normalize: NormalizeSettings, dedup: DedupSettings, out: str,
              beam_args: list[str], num_shards: int = 1) -> DedupCounts:
    """Run the dedup pipeline into ``out`` (cleared first) and count what it wrote."""
    clear_outputs(out, extra=(PROBLEMS_DIR,))
    with pipeline_options(beam_args) as options:
        pipeline = beam.Pipeline(options=options)
        build_dedup_pipeline(pipeline, sources, normalize, dedup, out, num_shards)
        pipeline.run().wait_until_finish()
    return DedupCounts(
        read=rows_read(out),
        kept=sum(s.rows for s in list_shards(out, PROBLEMS_DIR)),
        dropped=reason_counts(out, DROPPED),
        dead_lettered=reason_counts(out, DEAD_LETTER),
    )
