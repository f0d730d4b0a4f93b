"""A finished run as a source (``kind: mmcot``): problems taken by outcome, restored exactly (images included),
read counts under each problem's own source, corrupt rows and non-runs refused with reasons."""
from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.build import build_front
from pipelines.config import ConfigError, parse_config
from schemas.convert import to_row
from schemas.derive import arrow_schema
from schemas.outputs import Message, RejectRow, SFTRow
from schemas.problem import PROBLEM_SCHEMA, ImageMeta, ImageRef
from tests.support.factories import problem
from tests.support.helpers import png_bytes
from transforms import failures
from transforms.dedup import DedupSettings
from transforms.normalize import NormalizeSettings
from transforms.sources import ReadSources, SourceSettings
from transforms.sources.finished_run import RESTORED, RunLayoutError
from transforms.sources.outcomes import RunOutcomes
from transforms.tags import DEAD_LETTER, READ_COUNTS


def _two_images(pid: str, source: str):
    p = problem(pid, question=f"Compare <image> with <image>: which has more dots ({pid})?", source=source,
                image_hash=pid.encode().hex().ljust(64, "0")[:64], phash=f"{abs(hash(pid)) % 16**16:016x}")
    blobs = [png_bytes(size=(40, 30), color=(10, 200, 30)), png_bytes(size=(30, 40), color=(200, 10, 30), mode="RGBA")]
    return dataclasses.replace(p, images=[ImageRef(b, None) for b in blobs], metadata='{"difficulty": 0.7, "k": [1, 2]}',
                               image_meta=[ImageMeta(40, 30, "PNG", "1" * 64, "0" * 16), ImageMeta(30, 40, "PNG", "2" * 64, "f" * 16)])


PROBLEMS = [
    problem("a/kept-easy", question="<image> How many dots? (easy)", source="a"),
    problem("a/kept-hard", question="<image> How many squares? (hard)", source="a", choices=["1", "2", "3"], answer="B"),
    _two_images("a/no-chain", "a"),
    problem("b/no-chain", question="<image> What is the angle? (b)", source="b", answer="30", caption=""),
    problem("b/unverifiable", question="<image> Name the shape.", source="b", answer="a kite"),
    problem("b/timeout", question="<image> What is the area?", source="b", answer="12"),
]


def _sft(pid: str, pass_rate: float) -> SFTRow:
    return SFTRow(pid, pid.split("/")[0], [ImageRef(png_bytes(), None)], [Message("user", "<image>q"), Message("assistant", "a")],
                  "3", "numeric", 0.3, pass_rate, "t", 10, "shortest")


def _write(path, schema, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([to_row(r) for r in records], schema=schema), path)


def finished_run(root, problems=PROBLEMS):
    _write(root / "problems" / "train-00000-of-00002.parquet", PROBLEM_SCHEMA, problems[:3])
    _write(root / "problems" / "train-00001-of-00002.parquet", PROBLEM_SCHEMA, problems[3:])
    _write(root / "sft" / "train-00000-of-00001.parquet", arrow_schema(SFTRow), [_sft("a/kept-easy", 0.75), _sft("a/kept-hard", 0.25)])
    _write(root / "dropped" / "train-00000-of-00001.parquet", arrow_schema(RejectRow), [
        RejectRow("a/no-chain", "a", "select", "no_correct_chain"), RejectRow("b/no-chain", "b", "select", "no_correct_chain"),
        RejectRow("b/unverifiable", "b", "select", "unverifiable"),
        RejectRow("a/dup", "a", "dedup", "duplicate", survivor_id="a/kept-easy")])
    _write(root / "dead_letter" / "train-00000-of-00001.parquet", arrow_schema(RejectRow), [
        RejectRow("b/timeout", "b", "generate", "teacher_timeout"), RejectRow("a/bad-row", "a", "normalize", "missing_answer")])
    (root / "manifest.json").write_text("{}")
    return root


def _source(run, **take) -> SourceSettings:
    return SourceSettings(kind="mmcot", path=str(run), name="round1", take=take or None)


@pytest.mark.parametrize("take, ids", [
    ({"outcomes": ["no_correct_chain"]}, ["a/no-chain", "b/no-chain"]),
    ({"outcomes": ["unverifiable", "dead_letter"]}, ["b/unverifiable", "b/timeout"]),
    ({"outcomes": ["kept"], "pass_rate": [0.5, 1.0]}, ["a/kept-easy"]),
    ({"outcomes": ["kept", "no_correct_chain"], "pass_rate": [0.0, 0.25]}, ["a/kept-hard", "a/no-chain", "b/no-chain"]),
    ({}, [p.id for p in PROBLEMS]),
])
def test_problems_are_taken_by_outcome_and_restored_exactly(tmp_path, take, ids):
    run = finished_run(tmp_path / "run")
    expected = [p for p in PROBLEMS if p.id in ids]
    counts = {}
    for p in expected:
        counts[p.source] = counts.get(p.source, 0) + 1
    with TestPipeline() as pipeline:
        read = pipeline | ReadSources([_source(run, **take)])
        assert_that(read[RESTORED], equal_to(expected), label="restored")
        per_source = read[READ_COUNTS] | beam.Map(lambda c: (c.source, c.rows)) | beam.CombinePerKey(sum)
        assert_that(per_source, equal_to(sorted(counts.items())), label="counts")
        assert_that(read["rows"], equal_to([]), label="rows")
        assert_that(read[DEAD_LETTER], equal_to([]), label="dead")


def test_outcomes_leave_out_the_front_and_record_kept_pass_rates(tmp_path):
    run = finished_run(tmp_path / "run")
    with TestPipeline() as pipeline:
        outcomes = pipeline | RunOutcomes(str(run))
        # a dedup drop is an outcome; a normalize failure never got in
        assert_that(outcomes | beam.MapTuple(lambda pid, o: (pid, o.outcome, o.pass_rate)), equal_to([
            ("a/kept-easy", "kept", 0.75), ("a/kept-hard", "kept", 0.25), ("a/no-chain", "no_correct_chain", None),
            ("b/no-chain", "no_correct_chain", None), ("b/unverifiable", "unverifiable", None),
            ("a/dup", "duplicate", None), ("b/timeout", "dead_letter", None)]))


def test_corrupt_rows_and_files_are_dead_lettered_and_counted(tmp_path):
    broken = dataclasses.replace(PROBLEMS[0], question="no marker here")
    run = finished_run(tmp_path / "run", [broken, *PROBLEMS[1:]])
    (run / "problems" / "train-00001-of-00002.parquet").write_bytes(b"not parquet")
    with TestPipeline() as pipeline:
        read = pipeline | ReadSources([_source(run)])
        assert_that(read[DEAD_LETTER] | beam.Map(lambda r: (r.row_id, r.reason)), equal_to(
            [("a/kept-easy", "corrupt_problem"), ("round1/train-00001-of-00002.parquet", "unreadable_file")]), label="dead")
        assert_that(read[RESTORED] | beam.Map(lambda p: p.id), equal_to(["a/kept-hard", "a/no-chain"]), label="ok")
        assert_that(read[READ_COUNTS] | beam.Map(lambda c: (c.source, c.rows)) | beam.CombinePerKey(sum),
                    equal_to([("a", 3), ("round1", 1)]), label="counts")


def test_restored_problems_pass_the_front_unchanged(tmp_path):
    run = finished_run(tmp_path / "run")
    with TestPipeline() as pipeline:
        front = build_front(pipeline, [_source(run, outcomes=["no_correct_chain"])], NormalizeSettings(), DedupSettings())
        failures.collected(pipeline)
        assert_that(front.kept, equal_to([p for p in PROBLEMS if p.id in ("a/no-chain", "b/no-chain")]))


def test_a_directory_that_is_not_a_finished_run_is_refused_naming_the_key(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "manifest.json").unlink()
    with pytest.raises(RunLayoutError, match=r"sources\[round1\]\.path: .* not a finished mmcot run"), TestPipeline() as pipeline:
        pipeline | ReadSources([_source(run)])


@pytest.mark.parametrize("source, message", [
    ({"kind": "jsonl", "path": "x.jsonl", "name": "x", "take": {"outcomes": ["kept"]}}, "take: only a kind: mmcot"),
    ({"kind": "mmcot", "path": "out/r1", "name": "r1", "preset": "mathvista"}, "preset: do not apply"),
    ({"kind": "mmcot", "path": "out/r1", "name": "r1", "take": {"outcomes": ["no_chain"]}}, "source.take.outcomes.0"),
    ({"kind": "mmcot", "path": "out/r1", "name": "r1", "take": {"outcomes": ["unverifiable"], "pass_rate": [0, 1]}},
     "add kept to outcomes"),
    ({"kind": "mmcot", "path": "out/r1", "name": "r1", "take": {"outcomes": ["kept"], "pass_rate": [0.8, 0.2]}},
     "low <= high"),
])
def test_config_errors_name_the_key(source, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"run": {"name": "r", "output_dir": "out/x"}, "source": source})


def test_a_finished_run_on_object_storage_reads_through_fsspec(tmp_path):
    local = finished_run(tmp_path / "run")
    fs = fsspec.filesystem("memory")
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe(f"/rounds-test/{path.relative_to(local)}", path.read_bytes())
    with TestPipeline() as pipeline:
        read = pipeline | ReadSources([_source("memory://rounds-test", outcomes=["no_correct_chain"])])
        assert_that(read[RESTORED], equal_to([p for p in PROBLEMS if p.id in ("a/no-chain", "b/no-chain")]))


def test_kept_rows_come_from_sft_trl_when_the_run_wrote_for_trl_only_and_a_verl_only_run_is_refused(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "sft").rename(run / "sft_trl")
    (run / "manifest.json").write_text(json.dumps({"config": {"output": {"trainers": ["trl"]}}}))
    with TestPipeline() as pipeline:
        read = pipeline | ReadSources([_source(run, outcomes=["kept"], pass_rate=[0.5, 1.0])])
        assert_that(read[RESTORED] | beam.Map(lambda p: p.id), equal_to(["a/kept-easy"]))
    (run / "manifest.json").write_text(json.dumps({"config": {"output": {"trainers": ["verl"]}}}))
    with pytest.raises(RunLayoutError, match=r"sources\[round1\]\.take\.outcomes: kept needs the run's kept rows"), \
            TestPipeline() as pipeline:
        pipeline | ReadSources([_source(run, outcomes=["kept"])])
