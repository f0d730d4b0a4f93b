"""Run a pipeline end to end: teacher up, Beam job, manifest, dataset card, teacher down."""
from __future__ import annotations

import gc
import logging
import posixpath
import shlex
import sys
import time
import uuid

import apache_beam as beam
import fsspec

from data_cards.card import CARD_FILES, load_manifest, write_card
from data_cards.report.render import write_report
from pipelines.build import build_pipeline
from pipelines.config import PipelineConfig
from pipelines.embedded_teacher import mmcot_home
from pipelines.endpoints import run_endpoints
from pipelines.manifest import build_manifest
from pipelines.metrics import query_metrics
from pipelines.preflight import check_run
from pipelines.remote_guard import guard_remote_run, run_places
from pipelines.runners import pipeline_options, worker_processes
from pipelines.staging import staged_mmcot
from pipelines.storage import config_paths, require_storage
from schemas.figures import META_DIR
from schemas.manifest import Manifest, RunMetrics
from schemas.output_sets import RUN_OUTPUT_NAMES

log = logging.getLogger(__name__)


def clear_outputs(out_dir: str, extra: tuple[str, ...] = ()) -> None:
    """Remove the output sets (and ``extra`` entries) a previous run left, so no stale shard mixes into this one."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    for name in (*RUN_OUTPUT_NAMES, META_DIR, *CARD_FILES, *extra):
        path = posixpath.join(root, name)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    fs.makedirs(root, exist_ok=True)


def run_pipeline(config: PipelineConfig, beam_args: list[str], command: str | None = None,
                 cache_only: bool = False) -> Manifest:
    """Run the job described by ``config``; write manifest.json and README.md; return the manifest.

    Every bucket, Hub repo and model server it names must answer first (:mod:`pipelines.preflight`); with
    ``cache_only`` the model servers need not (a rerun answered from the response cache)."""
    started = time.monotonic()
    config.check_environment()
    out = config.run.output_dir
    cache_url = config.teacher.cache_url or str(mmcot_home() / "responses")
    require_storage(config_paths(config, cache_url))
    with pipeline_options(beam_args) as options:
        guard_remote_run(options, run_places(config, config.teacher.cache_url))
        check_run(config, options, cache_url, cache_only)
        clear_outputs(out)
        limited = any(s.rate_limit for s in (config.teacher, *config.helper_endpoints().values()))
        with staged_mmcot(options), run_endpoints(config, worker_processes(options) if limited else 1) as endpoints:
            log.info("Running %s on %s; output %s; response cache %s", config.run.name,
                     options.get_all_options().get("runner"), out, endpoints.teacher.cache_url)
            metrics = run_job(config, options, endpoints)
    gc.collect()  # the job's graph (Beam's and the runner's) is garbage now: its memory serves the report
    return write_run_report(config, command or shlex.join(["mmcot", *sys.argv[1:]]), time.monotonic() - started,
                            uuid.uuid4().hex[:12], metrics)


def run_job(config: PipelineConfig, options, endpoints) -> RunMetrics:
    """Build the job, run it, wait for it; only its metrics outlive the call (not the pipeline or its result)."""
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config, endpoints)
    result = pipeline.run()
    result.wait_until_finish()
    return query_metrics(result, type(pipeline.runner).__name__)


def write_run_report(config: PipelineConfig, command: str, wall_time_s: float, run_id: str,
                     metrics: RunMetrics | None = None) -> Manifest:
    """After the job: write manifest.json (and the plots) from the figures the workers wrote under ``_meta/`` and the
    job's metrics, then the card and report.html from the manifest file and the row sample (no data shard is read)."""
    out = config.run.output_dir
    manifest = build_manifest(config, command=command, wall_time_s=wall_time_s, run_id=run_id, metrics=metrics)
    fs, root = fsspec.core.url_to_fs(out)
    with fs.open(posixpath.join(root, "manifest.json"), "w") as fh:
        fh.write(manifest.to_json())
    write_card(out, load_manifest(out))  # from the file, exactly as `mmcot card` renders it
    write_report(out)
    return manifest
