"""What became of each problem of a finished run (kept with its pass rate, a drop reason, dead-lettered), read by
workers off the id columns of its ``dead_letter/``, ``dropped/`` and kept sets.

Shared by the read stage (a finished run as a source takes problems by outcome) and the rounds' figures.
"""
from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq

from schemas.stages import DEDUP, NORMALIZE, READ

FRONT_STAGES = (READ.name, NORMALIZE.name, DEDUP.name)  # dead letters of these never reached problems/
KEPT_SETS = {"llamafactory": "sft", "trl": "sft_trl"}  # the kept rows (ids, pass rates) by the trainer they are for


@dataclass(frozen=True)
class ProblemOutcome:
    """What became of one problem in a run: ``kept`` (with its pass rate) or the reason it left."""

    outcome: str
    pass_rate: float | None = None


OUTCOME_SETS = ("dead_letter", "dropped", "kept")  # in precedence order: a later set's outcome of a problem wins


def outcome_files(run_dir: str) -> list[tuple[str, str]]:
    """``(outcome set, file)`` of every shard the finished run's outcomes are read from (a listing, no file is read)."""
    fs, root = fsspec.core.url_to_fs(run_dir.rstrip("/"))
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    names = {"dead_letter": "dead_letter", "dropped": "dropped", "kept": kept_set(run_dir) or "sft"}
    return [(kind, f if protocol == "file" else f"{protocol}://{f}") for kind in OUTCOME_SETS
            for f in sorted(fs.glob(posixpath.join(root, names[kind], "*.parquet")))]


def file_outcomes(kind_file: tuple[str, str]) -> Iterator[tuple[str, tuple[int, ProblemOutcome]]]:
    """``(problem id, (precedence, outcome))`` for each row of one outcome file (a worker reads its id columns)."""
    kind, path = kind_file
    columns = {"dead_letter": ["row_id", "stage"], "dropped": ["row_id", "reason"], "kept": ["id", "pass_rate"]}[kind]
    with fsspec.open(path, "rb") as fh:
        table = pq.read_table(fh, columns=columns)
    rank = OUTCOME_SETS.index(kind)
    for pid, value in zip(table[columns[0]].to_pylist(), table[columns[1]].to_pylist()):
        if kind == "dead_letter" and value not in FRONT_STAGES:
            yield pid, (rank, ProblemOutcome("dead_letter"))
        elif kind == "dropped":
            yield pid, (rank, ProblemOutcome(value))
        elif kind == "kept":
            yield pid, (rank, ProblemOutcome("kept", value))


def _winner(ranked) -> tuple[int, ProblemOutcome]:
    return max(ranked, key=lambda r: r[0])


class RunOutcomes(beam.PTransform):
    """A finished run's ``(problem id, ProblemOutcome)``, read by workers off its ``dead_letter/``, ``dropped/`` and
    kept sets; problems that never left the front are absent."""

    def __init__(self, run_dir: str):
        super().__init__()
        self._run_dir = run_dir

    def expand(self, pbegin):
        return (pbegin | "ListOutcomeFiles" >> beam.Create(outcome_files(self._run_dir))
                | "ReadOutcomes" >> beam.FlatMap(file_outcomes) | "Winner" >> beam.CombinePerKey(_winner)
                | "Outcome" >> beam.MapTuple(lambda pid, ranked: (pid, ranked[1])))


def kept_set(run_dir: str) -> str | None:
    """The set holding the finished run's kept rows: ``sft``, else ``sft_trl``, as its ``output.trainers`` wrote them
    (None: it wrote neither, as a verl-only run; runs before ``output.trainers`` wrote ``sft``)."""
    fs, root = fsspec.core.url_to_fs(run_dir.rstrip("/"))
    with fs.open(posixpath.join(root, "manifest.json"), "r") as fh:
        trainers = json.load(fh).get("config", {}).get("output", {}).get("trainers") or list(KEPT_SETS)
    return next((name for trainer, name in KEPT_SETS.items() if trainer in trainers), None)
