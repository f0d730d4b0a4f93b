"""``mmcot dedup``: the front of ``mmcot run`` (read → normalize → dedup) alone, on files.

Writes ``problems/`` (kept problems, ``PROBLEM_SCHEMA``), ``dropped/`` (duplicates with their
survivor's id, contaminated problems with the benchmark item), ``dead_letter/`` (rows that could
not be read or normalized) and ``_meta/read_counts``, so read = kept + dropped + dead-lettered.
"""
from __future__ import annotations

import apache_beam as beam

from pipelines.build import all_rejects, build_front, write_sets
from pipelines.manifest import list_shards, reason_counts, rows_read
from pipelines.run import clear_outputs
from pipelines.runners import pipeline_options
from schemas.manifest import Counts
from schemas.output_sets import DEDUP_OUTPUTS, PROBLEMS, READ_COUNTS_SET
from transforms.dedup import DedupSettings
from transforms.normalize import NormalizeSettings
from transforms.read import SourceSettings
from transforms.tags import DEAD_LETTER, DROPPED


def build_dedup_pipeline(p: beam.Pipeline, source: SourceSettings, normalize: NormalizeSettings,
                         dedup: DedupSettings, out: str, num_shards: int = 1) -> None:
    """Add read → normalize → dedup → write to ``p``."""
    front = build_front(p, source, normalize, dedup)
    outputs = {
        PROBLEMS.name: front.kept,
        DROPPED: all_rejects(front.dropped, DROPPED),
        READ_COUNTS_SET.name: front.read_counts,
    }
    write_sets(p, outputs, front.dead, DEDUP_OUTPUTS, out, lambda name: num_shards if name == PROBLEMS.name else 1)


def run_dedup(source: SourceSettings, normalize: NormalizeSettings, dedup: DedupSettings, out: str,
              beam_args: list[str], num_shards: int = 1) -> Counts:
    """Run the dedup pipeline into ``out`` (cleared first) and count what it wrote."""
    clear_outputs(out, extra=(PROBLEMS.name,))
    with pipeline_options(beam_args) as options:
        pipeline = beam.Pipeline(options=options)
        build_dedup_pipeline(pipeline, source, normalize, dedup, out, num_shards)
        pipeline.run().wait_until_finish()
    return Counts(
        read=rows_read(out),
        kept=sum(s.rows for s in list_shards(out, PROBLEMS.name)),
        dropped=reason_counts(out, DROPPED),
        dead_lettered=reason_counts(out, DEAD_LETTER),
    )
