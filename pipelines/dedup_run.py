"""``mmcot dedup``: the read → normalize → dedup stages alone, on files.

Writes ``problems/`` (kept problems, ``PROBLEM_SCHEMA``), ``dropped/`` (duplicates with their
survivor's id, contaminated problems with the benchmark item), ``dead_letter/`` (rows that could
not be read or normalized) and ``_meta/read_counts``, so read = kept + dropped + dead-lettered.
The near-duplicate guards' Beam counters (pairs blocked, problems saved; unresolved nodes) are
queried after the run where the runner reports metrics (Dask's does not).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipelines.build import READ_COUNTS_DIR, READ_COUNTS_SCHEMA
from pipelines.manifest import list_shards, reason_counts, rows_read
from pipelines.run import clear_outputs
from pipelines.runners import pipeline_options
from schemas.outputs import REJECT_SCHEMA
from schemas.problem import PROBLEM_SCHEMA
from transforms.dedup import DedupProblems, DedupSettings
from transforms.dedup.near import GUARDS
from transforms.normalize import NormalizeProblems, NormalizeSettings
from transforms.read import ReadProblems, SourceSettings
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
    guards: dict[str, int] | None = None

    def balanced(self) -> bool:
        """Whether every row read is kept, dropped or dead-lettered."""
        return self.read == self.kept + sum(self.dropped.values()) + sum(self.dead_lettered.values())


def build_dedup_pipeline(p: beam.Pipeline, source: SourceSettings, normalize: NormalizeSettings,
                         dedup: DedupSettings, out: str, num_shards: int = 1) -> None:
    """Add read → normalize → dedup → write to ``p``."""
    read = p | "Read" >> ReadProblems(source)
    normalized = read.rows | "Spread" >> beam.Reshuffle() | "Normalize" >> NormalizeProblems(normalize)
    deduped = normalized.problems | "Dedup" >> DedupProblems(dedup)
    dead = (read[DEAD_LETTER], normalized[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten()
    deduped["kept"] | "Write_problems" >> WriteShards(posixpath.join(out, PROBLEMS_DIR), PROBLEM_SCHEMA, "id", num_shards)
    deduped[DROPPED] | "Write_dropped" >> WriteShards(posixpath.join(out, DROPPED), REJECT_SCHEMA, "row_id")
    dead | "Write_dead_letter" >> WriteShards(posixpath.join(out, DEAD_LETTER), REJECT_SCHEMA, "row_id")
    read[READ_COUNTS] | "Write_read_counts" >> WriteShards(posixpath.join(out, READ_COUNTS_DIR), READ_COUNTS_SCHEMA, "file")


def run_dedup(source: SourceSettings, normalize: NormalizeSettings, dedup: DedupSettings, out: str,
              beam_args: list[str], num_shards: int = 1) -> DedupCounts:
    """Run the dedup pipeline into ``out`` (cleared first) and count what it wrote."""
    clear_outputs(out, extra=(PROBLEMS_DIR,))
    with pipeline_options(beam_args) as options:
        pipeline = beam.Pipeline(options=options)
        build_dedup_pipeline(pipeline, source, normalize, dedup, out, num_shards)
        result = pipeline.run()
        result.wait_until_finish()
    return DedupCounts(
        read=rows_read(out),
        kept=sum(s.rows for s in list_shards(out, PROBLEMS_DIR)),
        dropped=reason_counts(out, DROPPED),
        dead_lettered=reason_counts(out, DEAD_LETTER),
        guards=guard_counters(result),
    )


GUARD_COUNTERS = (*(f"blocked_pairs_{g}" for g in GUARDS), *(f"saved_{g}" for g in GUARDS), "unresolved_nodes")


def guard_counters(result: beam.runners.runner.PipelineResult) -> dict[str, int] | None:
    """The dedup guards' counters summed over steps, or ``None`` when the runner reports no metrics."""
    try:
        counters = result.metrics().query(MetricsFilter().with_namespace("dedup"))["counters"]
    except NotImplementedError:
        return None
    totals = dict.fromkeys(GUARD_COUNTERS, 0)
    for counter in counters:
        if counter.key.metric.name in totals:
            totals[counter.key.metric.name] += counter.committed
    return totals
