"""``mmcot evaluate``: one model on one problem set, every answer verified, accuracy with its interval.

The job is a small Beam pipeline (DirectRunner, in this process): read → normalize → assess (the
difficulty prior, so each problem has its band) → evaluate (:mod:`transforms.evaluate`: the
student prompt, one sample, verify) → ``items/`` and ``dead_letter/`` under the output directory.
The launcher then reads ``items/`` (one small row per problem) into ``evaluation.json``
(:class:`~schemas.evaluation.EvalReport`): accuracy with its Wilson interval overall, per band and
per answer type (:mod:`pipelines.eval_stats`), mean answer length, and the accounting.

The model is either a local model directory, served for the job by :class:`VllmServer` under a name
that carries a hash of its weights (so the response cache never hands one model's answers to
another), or any OpenAI-compatible endpoint (``base_url`` and model name: its answers are cached
under that name, so point ``cache_url`` elsewhere when the weights behind a name change).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import posixpath
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq

from data_cards.meta import read_figures
from pipelines.build import write_figures, write_sets
from pipelines.embedded_teacher import mmcot_home
from pipelines.eval_stats import INTERVAL, group_score, scores_by
from pipelines.evaluate_cli import REPORT_FILE
from pipelines.runners import pipeline_options
from pipelines.vllm_server import VllmServer
from schemas.convert import from_table
from schemas.evaluation import EvalItem, EvalReport, GroupScore
from schemas.figures import FUNNEL_FILE, FunnelFigures
from schemas.output_sets import READ_COUNTS_SET, RUN_OUTPUTS, OutputSpec
from schemas.settings import Settings
from transforms import failures
from transforms.assess import Assess, AssessSettings
from transforms.bands import Band
from transforms.evaluate import EvaluateProblems, EvaluateSettings
from transforms.length import LengthSettings
from transforms.normalize import NormalizeProblems, NormalizeSettings
from transforms.sources import ReadSources, SourceSettings, require_images_by_source
from transforms.tags import DEAD_LETTER, READ_COUNTS
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings
from transforms.verifiers.config import VerifyConfig

log = logging.getLogger(__name__)

ITEMS = OutputSpec("items", EvalItem, "problem_id",
                   "Every evaluated problem: the model's answer, its verdict, band, answer type and length.")
EVAL_OUTPUTS: tuple[OutputSpec, ...] = (ITEMS, *(s for s in RUN_OUTPUTS if s.name == DEAD_LETTER))


class EvalSetup(Settings):
    """Everything but the model: how problems are read (``source``, ``normalize``) and banded (``assess``'s
    difficulty prior, ``bands``), how answers are asked for (``ask``) and verified (``verify``: an answer
    needs no ``<think>`` block unless asked, since a student's base model writes none)."""

    source: SourceSettings
    normalize: NormalizeSettings = NormalizeSettings()
    assess: AssessSettings = AssessSettings()
    bands: list[Band] = LengthSettings().bands
    verify: VerifyConfig = VerifyConfig(require_reasoning=False)
    ask: EvaluateSettings = EvaluateSettings()


def served_name(model_dir: str | Path) -> str:
    """``<folder>-<12 hex>``: the folder's name and a hash of its weights and config, the name a local model is
    served and cached under (a retrained model in the same folder gets a new name)."""
    root = Path(model_dir)
    digest = hashlib.sha256()
    files = sorted([*root.glob("*.safetensors"), *root.glob("pytorch_model*.bin"), *root.glob("config.json")])
    if not files:
        raise FileNotFoundError(f"{root} holds no model weights (*.safetensors, pytorch_model*.bin) or config.json")
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return f"{root.name}-{digest.hexdigest()[:12]}"


@contextlib.contextmanager
def model_endpoint(cache_url: str | None = None, model_dir: str | Path | None = None, base_url: str | None = None,
                   model: str | None = None, api_key_env: str | None = None, max_in_flight: int = 64,
                   seed: int = 0, timeout_s: float = 600.0) -> Iterator[Endpoint]:
    """The Endpoint of the model to evaluate: ``model_dir`` served by vLLM for the block's duration (seeded server, the
    CPU settings of :class:`VllmServer`), or the OpenAI-compatible server at ``base_url`` serving ``model``."""
    if (model_dir is None) == (base_url is None):
        raise ValueError("give a local model directory or a base URL (and model name), not both")
    cache = cache_url or str(mmcot_home() / "responses")
    fields = {"max_in_flight": max_in_flight, "api_key_env": api_key_env, "timeout_s": timeout_s}
    if base_url is not None:
        if not model:
            raise ValueError("a base URL needs the model name the server serves")
        yield Endpoint(TeacherSettings(base_url=base_url, model=model, **fields), cache)
        return
    name = model or served_name(model_dir)
    server = VllmServer(model_dir, name, seed=seed, die_with_parent=True,
                        log_path=mmcot_home() / "run" / f"evaluate-{name}.log")
    log.info("Serving %s as %s with vLLM (log: %s)", model_dir, name, server.log_path)
    with server:
        yield Endpoint(TeacherSettings(base_url=server.base_url, model=name, **fields), cache)


def build_evaluation(p: beam.Pipeline, setup: EvalSetup, endpoint: Endpoint, out: str) -> None:
    """Add read → normalize → assess → evaluate → write (``items/``, ``dead_letter/``, read counts) to ``p``."""
    failures.collect(p)
    read = p | "Read" >> ReadSources([setup.source])
    normalized = read["rows"] | "Normalize" >> NormalizeProblems(setup.normalize, require_images_by_source([setup.source]))
    assessed = normalized.problems | "Assess" >> Assess(setup.assess)
    evaluated = assessed | "Evaluate" >> EvaluateProblems(endpoint, setup.ask, setup.bands, setup.verify)
    outputs = {ITEMS.name: evaluated.items, READ_COUNTS_SET.name: read[READ_COUNTS]}
    written = write_sets(p, outputs, [read[DEAD_LETTER], normalized[DEAD_LETTER], evaluated[DEAD_LETTER]], EVAL_OUTPUTS,
                         out, lambda _name: 1)
    write_figures(written, EVAL_OUTPUTS, out, ITEMS.name)


def read_items(out: str) -> list[EvalItem]:
    """The evaluated items an evaluation wrote under ``out``, by problem id."""
    fs, root = fsspec.core.url_to_fs(out)
    items: list[EvalItem] = []
    for path in sorted(fs.glob(posixpath.join(root, ITEMS.name, "*.parquet"))):
        with fs.open(path, "rb") as fh:
            items.extend(from_table(EvalItem, pq.read_table(fh)))
    return sorted(items, key=lambda item: item.problem_id)


def clear_evaluation(out: str) -> None:
    """Remove what an earlier evaluation left in ``out`` (its sets and report), so no stale shard mixes in."""
    fs, root = fsspec.core.url_to_fs(out)
    for name in (*(s.name for s in EVAL_OUTPUTS), "_meta", REPORT_FILE):
        path = posixpath.join(root, name)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    fs.makedirs(root, exist_ok=True)


def evaluation_report(items: list[EvalItem], setup: EvalSetup, endpoint: Endpoint, out: str,
                      wall_time_s: float) -> EvalReport:
    """The report of ``items`` (and of what ``out`` records as read and dead-lettered)."""
    settings = setup.ask
    bands = [b.name for b in setup.bands]
    reasons = Counter(reason for item in items if not item.correct for reason in item.reasons)
    funnel = read_figures(out, FUNNEL_FILE, FunnelFigures).counts()
    return EvalReport(
        model=endpoint.settings.model,
        endpoint=endpoint.settings.base_url or endpoint.settings.backend,
        problems=setup.source.path,
        modality=settings.modality,
        sampling={"max_tokens": settings.max_tokens, "temperature": settings.temperature, "top_p": settings.top_p,
                  "repetition_penalty": settings.repetition_penalty},
        interval=INTERVAL,
        read=funnel.read,
        evaluated=len(items),
        overall=group_score("all", items),
        by_band=scores_by(items, lambda i: i.band, bands),
        by_answer_type=scores_by(items, lambda i: i.answer_type),
        reasons=dict(reasons.most_common()),
        dead_lettered=funnel.dead_lettered,
        from_cache=sum(item.cached for item in items),
        wall_time_s=round(wall_time_s, 1),
    )


def run_evaluation(setup: EvalSetup, endpoint: Endpoint, out: str) -> EvalReport:
    """Evaluate ``endpoint``'s model on ``setup``'s problems into ``out`` (cleared first); write and return the report."""
    started = time.monotonic()
    clear_evaluation(out)
    with pipeline_options([]) as options:
        pipeline = beam.Pipeline(options=options)
        build_evaluation(pipeline, setup, endpoint, out)
        pipeline.run().wait_until_finish()
    report = evaluation_report(read_items(out), setup, endpoint, out, time.monotonic() - started)
    fs, root = fsspec.core.url_to_fs(out)
    with fs.open(posixpath.join(root, REPORT_FILE), "w") as fh:
        fh.write(report.to_json())
    return report


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _row(label: str, score: GroupScore) -> str:
    interval = "-" if score.low is None else f"[{_percent(score.low)}, {_percent(score.high)}]"
    tokens = "-" if score.mean_tokens is None else f"{score.mean_tokens:.0f}"
    correct_tokens = "-" if score.mean_tokens_correct is None else f"{score.mean_tokens_correct:.0f}"
    return f"{label:<24} {score.n:>5} {score.correct:>7} {_percent(score.accuracy):>9} {interval:>20} {tokens:>7} {correct_tokens:>9}"


def evaluation_table(report: EvalReport) -> str:
    """The report as a table for a person: overall, per band, per answer type, then what went wrong."""
    sampling = report.sampling
    how = "greedy" if not sampling["temperature"] else f"temperature {sampling['temperature']:g}, top-p {sampling['top_p']:g}"
    lines = [
        f"{report.model} on {report.problems}: {report.evaluated} of {report.read} problems evaluated, {how}, "
        f"at most {sampling['max_tokens']:.0f} tokens, {report.modality} prompt ({report.from_cache} answers from cache)",
        f"{'group':<24} {'n':>5} {'correct':>7} {'accuracy':>9} {'interval':>20} {'tokens':>7} {'(correct)':>9}",
        _row("all", report.overall),
        *(_row(f"band {s.group}", s) for s in report.by_band),
        *(_row(f"type {s.group}", s) for s in report.by_answer_type),
    ]
    lines.append(f"interval: {report.interval}; tokens: mean answer length (of the correct answers)")
    if report.reasons:
        lines.append("wrong answers' failed checks: " + ", ".join(f"{r} {n}" for r, n in report.reasons.items()))
    if report.dead_lettered:
        lines.append("dead-lettered: " + ", ".join(f"{r} {n}" for r, n in report.dead_lettered.items()))
    return "\n".join(lines)
