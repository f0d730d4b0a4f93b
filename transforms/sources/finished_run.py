"""A finished run as a source (``source.kind: mmcot``): its problems, chosen by what became of them.

Every ``mmcot run`` writes ``problems/`` (each problem that reached the teacher stages, exactly as
normalized, images included). This source reads that set back and keeps the problems whose outcome
the ``take`` section names: ``kept`` (an SFT row; ``take.pass_rate`` narrows it to a pass-rate range),
a drop reason (``no_correct_chain``, ``unverifiable``, ``below_min_chain_quality``,
``below_min_quality``, ``unclean_chains``, ``signals_unknown``, ``above_max_critical_entropy``,
``below_min_answer_logprob``), ``dead_letter`` (a teacher-stage failure), or ``all``. Outcomes are read by the
workers, inside the job (:mod:`transforms.sources.outcomes`), from the run's ``sft/`` (or ``sft_trl/`` when
its ``output.trainers`` left ``sft`` out), ``dropped/`` and ``dead_letter/`` sets (ids, reasons and pass rates only); the taken ids
reach the problem reader as one side input. The launcher only lists the files.

Restored problems skip normalize (they are normalized already, ids and sources unchanged, so a
round's rows match the last round's ids); their rows read count under each problem's own source,
so the accounting identity holds per source across rounds. A row that does not fit the Problem
schema, or whose images, image facts and markers disagree, is dead-lettered (``corrupt_problem``).
"""
from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Literal

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from pydantic import Field, model_validator

from schemas.convert import from_row
from schemas.output_sets import PROBLEMS
from schemas.outputs import RejectRow
from schemas.problem import IMAGE_MARKER, PROBLEM_SCHEMA, Problem
from schemas.settings import Settings
from schemas.source import ReadCount
from schemas.stages import READ
from transforms.sources.outcomes import ProblemOutcome, RunOutcomes, kept_set
from transforms.tags import DEAD_LETTER, READ_COUNTS

Outcome = Literal["all", "kept", "no_correct_chain", "unverifiable", "below_min_chain_quality", "below_min_quality",
                  "unclean_chains", "signals_unknown", "above_max_critical_entropy", "below_min_answer_logprob",
                  "dead_letter"]
RESTORED = "problems"  # the read output restored problems leave on (normalize is skipped)



class TakeSettings(Settings):
    """Which of a finished run's problems a source takes: by outcome, kept ones optionally by pass rate (inclusive)."""

    outcomes: list[Outcome] = Field(
        default=["all"], min_length=1,
        description="Outcomes whose problems are taken: all, kept, dead_letter, or a drop reason (no_correct_chain, unverifiable, "
                    "below_min_chain_quality, below_min_quality, unclean_chains).",
    )
    pass_rate: tuple[float, float] | None = Field(
        default=None,
        description="[low, high]: kept problems are taken only when their pass rate lies in this range (inclusive; needs kept in "
                    "outcomes); null: any.",
    )

    @model_validator(mode="after")
    def _range(self) -> TakeSettings:
        if self.pass_rate is not None:
            lo, hi = self.pass_rate
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"pass_rate: need 0 <= low <= high <= 1, got {list(self.pass_rate)}")
            if "kept" not in self.outcomes:
                raise ValueError("pass_rate: narrows the kept problems; add kept to outcomes")
        return self


class RunLayoutError(FileNotFoundError):
    """A source path that is not a finished run's output directory."""


def taken(outcome: ProblemOutcome, take: TakeSettings) -> bool:
    """Whether a problem with ``outcome`` is taken."""
    if "all" in take.outcomes:
        return True
    if outcome.outcome not in take.outcomes:
        return False
    if outcome.outcome == "kept" and take.pass_rate is not None:
        return take.pass_rate[0] <= outcome.pass_rate <= take.pass_rate[1]
    return True


def problem_files(run_dir: str, key: str) -> list[str]:
    """The ``problems/`` shards of the finished run at ``run_dir``; raises naming ``key`` when it is not one."""
    fs, root = fsspec.core.url_to_fs(run_dir.rstrip("/"))
    if not fs.exists(posixpath.join(root, "manifest.json")):
        raise RunLayoutError(f"{key}.path: {run_dir} is not a finished mmcot run (no manifest.json)")
    files = sorted(fs.glob(posixpath.join(root, PROBLEMS.name, "*.parquet")))
    if not files:
        raise RunLayoutError(f"{key}.path: {run_dir} has no {PROBLEMS.name}/ set (written by mmcot run since rounds)")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [f if protocol == "file" else f"{protocol}://{f}" for f in files]


def restore(row: dict) -> Problem:
    """The Problem of a ``problems/`` row; raises ValueError when its images, image facts and markers disagree."""
    problem = from_row(Problem, row)
    markers = problem.question.count(IMAGE_MARKER)
    if not len(problem.images) == len(problem.image_meta) == markers:
        raise ValueError(f"{len(problem.images)} images, {len(problem.image_meta)} image facts, {markers} markers")
    if any(image.bytes is None for image in problem.images):
        raise ValueError("an image without bytes")
    return problem


class ReadRunFn(beam.DoFn):
    """A finished run's ``problems/`` shard → the taken Problems (on :data:`RESTORED`), read counts per source,
    dead letters for corrupt rows and unreadable files."""

    def __init__(self, name: str):
        self._name = name
        self._restored = Metrics.counter(READ.name, "restored_problems")

    def process(self, path: str, ids: frozenset[str] | None = None) -> Iterator:
        counts: dict[str, int] = {}
        try:
            with fsspec.open(path, "rb") as fh:
                shard = pq.ParquetFile(fh)
                if not shard.schema_arrow.equals(PROBLEM_SCHEMA):
                    raise ValueError(f"schema is not the problems schema: {shard.schema_arrow}")
                for batch in shard.iter_batches(batch_size=64):
                    for row in batch.to_pylist():
                        if ids is None or row["id"] in ids:
                            counts[row["source"]] = counts.get(row["source"], 0) + 1
                            yield self._restore(row)
        except Exception as exc:
            counts[self._name] = counts.get(self._name, 0) + 1
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=f"{self._name}/{posixpath.basename(path)}", source=self._name, stage=READ.name,
                reason="unreadable_file", detail=f"{type(exc).__name__}: {exc}", payload=path))
        for source, rows in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput(READ_COUNTS, ReadCount(file=path, rows=rows, source=source))

    def _restore(self, row: dict):
        try:
            problem = restore(row)
        except (ValueError, TypeError, KeyError) as exc:
            return beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=str(row.get("id")), source=str(row.get("source")), stage=READ.name, reason="corrupt_problem",
                detail=f"{type(exc).__name__}: {exc}"))
        self._restored.inc()
        return beam.pvalue.TaggedOutput(RESTORED, problem)


class ReadFinishedRun(beam.PTransform):
    """A finished run's taken problems: ``rows`` (always empty: nothing to normalize), :data:`RESTORED`,
    dead letters and read counts."""

    def __init__(self, name: str, path: str, take: TakeSettings):
        super().__init__()
        self._name, self._path, self._take = name, path, take

    def expand(self, pbegin):
        key = f"sources[{self._name}]"
        files = problem_files(self._path, key)
        if "kept" in self._take.outcomes and kept_set(self._path) is None:
            raise RunLayoutError(f"{key}.take.outcomes: kept needs the run's kept rows, but {self._path} wrote neither "
                                 "sft/ nor sft_trl/ (its output.trainers has neither llamafactory nor trl)")
        ids, take = [], self._take
        if "all" not in take.outcomes:  # the taken ids, one side input (computed by the workers)
            ids = [beam.pvalue.AsSingleton(
                pbegin | "Outcomes" >> RunOutcomes(self._path)
                | "Taken" >> beam.Filter(lambda pid_outcome: taken(pid_outcome[1], take))
                | "TakenIds" >> beam.Keys() | "AllTaken" >> beam.combiners.ToList() | "AsSet" >> beam.Map(frozenset))]
        return (pbegin | "ListProblemFiles" >> beam.Create(files)
                | "ReadProblemFiles" >> beam.ParDo(ReadRunFn(self._name), *ids).with_outputs(
                    DEAD_LETTER, READ_COUNTS, RESTORED, main="rows"))
