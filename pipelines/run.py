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
from typing import Any, Iterator

import apache_beam as beam
import fsspec

from data_cards.card import CARD_FILES, load_manifest, write_card
from pipelines.build import READ_COUNTS_DIR, Endpoints, build_pipeline
from pipelines.config import OUTPUT_SETS, PipelineConfig
from pipelines.manifest import build_manifest
from pipelines.runners import pipeline_options
from pipelines.teacher_server import EMBEDDED_MODEL_NAME, VllmServer, mmcot_home, prepare_embedded_teacher
from schemas.manifest import Manifest
from transforms.teachers.settings import TeacherSettings

log = logging.getLogger(__name__)


def _require_embedded(settings: TeacherSettings, section: str, unset: str) -> None:
    if settings.model != EMBEDDED_MODEL_NAME:
        raise ValueError(f"{section}.{unset} is empty but {section}.model is {settings.model!r}: "
                         f"only the embedded teacher ({EMBEDDED_MODEL_NAME}) can be provided for you")


@contextlib.contextmanager
def teacher_endpoint(config: PipelineConfig) -> Iterator[str | None]:
    """The teacher server's base URL: the configured one, or the embedded teacher started for this run.

    None for the in-process engine backend, which needs no server.
    """
    if config.teacher.backend == "vllm" or config.teacher.base_url:
        yield config.teacher.base_url
        return
    _require_embedded(config.teacher, "teacher", "base_url")
    log.info("Starting the embedded teacher (vLLM on CPU, %s); this takes about a minute", EMBEDDED_MODEL_NAME)
    model_dir = prepare_embedded_teacher()
    server = VllmServer(model_dir, EMBEDDED_MODEL_NAME, seed=config.teacher.seed, die_with_parent=True,
                        log_path=Path(mmcot_home()) / "run" / "embedded-teacher.log")
    with server:
        log.info("Embedded teacher ready at %s (log: %s)", server.base_url, server.log_path)
        yield server.base_url


def _with_model_path(settings: TeacherSettings, section: str) -> TeacherSettings:
    """``settings`` with the in-process engine's model path filled in (the embedded teacher when unset)."""
    if settings.backend != "vllm" or settings.engine.model_path:
        return settings
    _require_embedded(settings, section, "engine.model_path")
    engine = settings.engine.model_copy(update={"model_path": str(prepare_embedded_teacher())})
    return settings.model_copy(update={"engine": engine})


def with_engine_models(config: PipelineConfig) -> PipelineConfig:
    """``config`` with every in-process engine's model path filled in: the teacher's, the judge's and the repairer's."""
    update: dict[str, Any] = {"teacher": _with_model_path(config.teacher, "teacher")}
    for name, endpoint in config.helper_endpoints().items():
        update[name] = getattr(config, name).model_copy(update={"endpoint": _with_model_path(endpoint, f"{name}.endpoint")})
    return config.model_copy(update=update)


def clear_outputs(out_dir: str, extra: tuple[str, ...] = ()) -> None:
    """Remove the output sets (and ``extra`` entries) a previous run left, so no stale shard mixes into this one."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    for name in (*OUTPUT_SETS, READ_COUNTS_DIR, *CARD_FILES, *extra):
        path = posixpath.join(root, name)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    fs.makedirs(root, exist_ok=True)


def run_pipeline(config: PipelineConfig, beam_args: list[str], command: str | None = None) -> Manifest:
    """Run the job described by ``config``; write manifest.json and README.md; return the manifest."""
    started = time.monotonic()
    config.check_environment()
    out = config.run.output_dir
    clear_outputs(out)
    cache_url = config.teacher.cache_url or str(mmcot_home() / "responses")
    with teacher_endpoint(config) as base_url, pipeline_options(beam_args) as options:
        log.info("Running %s on %s; output %s; response cache %s", config.run.name,
                 options.get_all_options().get("runner"), out, cache_url)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, with_engine_models(config), Endpoints(teacher_base_url=base_url, cache_url=cache_url))
        pipeline.run().wait_until_finish()
    return write_run_report(config, command or shlex.join(["mmcot", *sys.argv[1:]]), time.monotonic() - started,
                            uuid.uuid4().hex[:12])


def write_run_report(config: PipelineConfig, command: str, wall_time_s: float, run_id: str) -> Manifest:
    """After the job: write manifest.json (and the plots) from the output files, then the card from the manifest file."""
    out = config.run.output_dir
    manifest = build_manifest(config, command=command, wall_time_s=wall_time_s, run_id=run_id)
    fs, root = fsspec.core.url_to_fs(out)
    with fs.open(posixpath.join(root, "manifest.json"), "w") as fh:
        fh.write(manifest.to_json())
    write_card(out, load_manifest(out))  # from the file, exactly as `mmcot card` renders it
    return manifest
