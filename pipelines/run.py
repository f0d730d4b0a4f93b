"""Run a pipeline end to end: teacher up, Beam job, manifest, dataset card, teacher down."""
from __future__ import annotations

import contextlib
import logging
import posixpath
import shlex
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import apache_beam as beam
import fsspec

from data_cards.card import render_card
from pipelines.build import READ_COUNTS_DIR, Endpoints, build_pipeline
from pipelines.config import OUTPUT_SETS, PipelineConfig
from pipelines.manifest import build_manifest
from pipelines.runners import pipeline_options
from pipelines.teacher_server import EMBEDDED_MODEL_NAME, VllmServer, mmcot_home, prepare_embedded_teacher
from schemas.manifest import Manifest

log = logging.getLogger(__name__)


@contextlib.contextmanager
def teacher_endpoint(config: PipelineConfig) -> Iterator[str]:
    """The teacher's base URL: the configured one, or the embedded teacher started for this run."""
    if config.teacher.base_url:
        yield config.teacher.base_url
        return
    if config.teacher.model != EMBEDDED_MODEL_NAME:
        raise ValueError(f"teacher.base_url is empty but teacher.model is {config.teacher.model!r}: "
                         f"only the embedded teacher ({EMBEDDED_MODEL_NAME}) can be started for you")
    log.info("Starting the embedded teacher (vLLM on CPU, %s); this takes about a minute", EMBEDDED_MODEL_NAME)
    model_dir = prepare_embedded_teacher()
    server = VllmServer(model_dir, EMBEDDED_MODEL_NAME, seed=config.teacher.seed, die_with_parent=True,
                        log_path=Path(mmcot_home()) / "run" / "embedded-teacher.log")
    with server:
        log.info("Embedded teacher ready at %s (log: %s)", server.base_url, server.log_path)
        yield server.base_url


def clear_outputs(out_dir: str, extra: tuple[str, ...] = ()) -> None:
    """Remove the output sets (and ``extra`` entries) a previous run left, so no stale shard mixes into this one."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    for name in (*OUTPUT_SETS, READ_COUNTS_DIR, "manifest.json", "README.md", *extra):
        path = posixpath.join(root, name)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    fs.makedirs(root, exist_ok=True)


def run_pipeline(config: PipelineConfig, beam_args: list[str], command: str | None = None) -> Manifest:
    """Run the job described by ``config``; write manifest.json and README.md; return the manifest."""
    started = time.monotonic()
    out = config.run.output_dir
    clear_outputs(out)
    cache_url = config.teacher.cache_url or str(mmcot_home() / "responses")
    with teacher_endpoint(config) as base_url, pipeline_options(beam_args) as options:
        log.info("Running %s on %s; output %s; response cache %s", config.run.name,
                 options.get_all_options().get("runner"), out, cache_url)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, config, Endpoints(teacher_base_url=base_url, cache_url=cache_url))
        pipeline.run().wait_until_finish()
    manifest = build_manifest(
        config,
        command=command or shlex.join(["mmcot", *sys.argv[1:]]),
        wall_time_s=time.monotonic() - started,
        run_id=uuid.uuid4().hex[:12],
    )
    fs, root = fsspec.core.url_to_fs(out)
    with fs.open(posixpath.join(root, "manifest.json"), "w") as fh:
        fh.write(manifest.to_json())
    with fs.open(posixpath.join(root, "README.md"), "w") as fh:
        fh.write(render_card(manifest))
    return manifest
