"""``mmcot dedup``: the front of ``mmcot run`` (read → normalize → dedup) alone, on files.

Writes ``problems/`` (kept problems, ``PROBLEM_SCHEMA``), ``dropped/`` (duplicates with their
survivor's id, contaminated problems with the benchmark item), ``dead_letter/`` (rows that could
not be read or normalized), ``_meta/read_counts`` and the workers' figures (``_meta/funnel.json``,
``_meta/shards.json``), so read = kept + dropped + dead-lettered, counted without reading a shard.
The near-duplicate guards' Beam counters (pairs blocked, problems saved; unresolved nodes) are
queried after the run where the runner reports metrics (Dask's does not).
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from data_cards.meta import read_figures
from pipelines.build import all_rejects, build_front, write_figures, write_sets
from pipelines.remote_guard import RunPlaces, guard_remote_run
from pipelines.run import clear_outputs
from pipelines.runners import pipeline_options
from pipelines.staging import staged_mmcot
from pipelines.storage import require_storage
from schemas.figures import FUNNEL_FILE, FunnelFigures
from schemas.manifest import Counts
from schemas.output_sets import DEDUP_OUTPUTS, PROBLEMS, READ_COUNTS_SET
from schemas.stages import DEDUP
from transforms.dedup import DedupSettings
from transforms.dedup.near import GUARDS
from transforms.normalize import NormalizeSettings
from transforms.sources import SourceSettings
from transforms.tags import DROPPED


@dataclass
class DedupCounts(Counts):
    """A dedup run's funnel and its near-duplicate guards' counters (None: the runner reports no metrics)."""

    guards: dict[str, int] | None = None


def build_dedup_pipeline(p: beam.Pipeline, sources: list[SourceSettings], normalize: NormalizeSettings,
                         dedup: DedupSettings, out: str, num_shards: int = 1) -> None:
    """Add read (every source) → normalize → dedup → write to ``p``."""
    front = build_front(p, sources, normalize, dedup)
    outputs = {
        PROBLEMS.name: front.kept,
        DROPPED: all_rejects(front.dropped, DROPPED),
        READ_COUNTS_SET.name: front.read_counts,
    }
    written = write_sets(p, outputs, front.dead, DEDUP_OUTPUTS, out, lambda name: num_shards if name == PROBLEMS.name else 1)
    write_figures(written, DEDUP_OUTPUTS, out, PROBLEMS.name)


def run_dedup(sources: list[SourceSettings], normalize: NormalizeSettings, dedup: DedupSettings, out: str,
              beam_args: list[str], num_shards: int = 1) -> DedupCounts:
    """Run the dedup pipeline into ``out`` (cleared first); its funnel as the workers counted it (``_meta/funnel.json``)."""
    paths = {"--output": out, **{f"sources[{s.name}].path": s.path for s in sources},
             **{f"sources[{s.name}].image_root": s.image_root for s in sources}}
    require_storage(paths)
    with pipeline_options(beam_args) as options:
        guard_remote_run(options, RunPlaces(paths=paths))
        clear_outputs(out)
        with staged_mmcot(options):
            pipeline = beam.Pipeline(options=options)
            build_dedup_pipeline(pipeline, sources, normalize, dedup, out, num_shards)
            result = pipeline.run()
            result.wait_until_finish()
    counts = read_figures(out, FUNNEL_FILE, FunnelFigures).counts()
    return DedupCounts(read=counts.read, kept=counts.kept, dropped=counts.dropped, dead_lettered=counts.dead_lettered,
                       guards=guard_counters(result))


GUARD_COUNTERS = (*(f"blocked_pairs_{g}" for g in GUARDS), *(f"saved_{g}" for g in GUARDS), "unresolved_nodes")


def guard_counters(result: beam.runners.runner.PipelineResult) -> dict[str, int] | None:
    """The dedup guards' counters summed over steps, or ``None`` when the runner reports no metrics."""
    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(DEDUP.name))["counters"]
    except NotImplementedError:
        return None
    totals = dict.fromkeys(GUARD_COUNTERS, 0)
    for counter in counters:
        if counter.key.metric.name in totals:
            totals[counter.key.metric.name] += counter.committed
    return totals
