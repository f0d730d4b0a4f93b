"""Failures as data (transforms/failures.py), boundary validation, root confinement and unique ids, unit by unit."""
from __future__ import annotations

import io
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.outputs import RejectRow
from schemas.source import SourceRow
from tests.support.factories import PLAN, problem
from transforms import failures, validate
from transforms.confined import read_image_file
from transforms.identity import RepeatedIds, unique_id
from transforms.length import LengthSettings, PlanLength
from transforms.sources import read
from transforms.teacher_calls import TeacherCallFn
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings
from transforms.validate import LimitSettings, RowError


def _explode(x):
    if x["id"] == "bad":
        raise IndexError("list index out of range")
    return x["id"]


def test_a_guarded_map_turns_one_element_s_exception_into_its_dead_letter():
    with TestPipeline() as p:
        failures.collect(p)
        rows = p | beam.Create([{"id": "a", "source": "s"}, {"id": "bad", "source": "s"}, {"id": "c", "source": "s"}])
        good = rows | failures.guarded("plan", beam.Map(_explode))
        dead = failures.collected(p) | beam.Map(lambda r: (r.row_id, r.source, r.stage, r.reason, "_explode" in r.detail))
        assert_that(good, equal_to(["a", "c"]), label="good")
        assert_that(dead, equal_to([("bad", "s", "plan", "internal_error:IndexError", True)]), label="dead")


def test_without_a_collector_a_failure_fails_the_pipeline():
    with pytest.raises(Exception, match="plan failed on bad: internal_error:IndexError"), TestPipeline() as p:
        p | beam.Create([{"id": "bad", "source": "s"}]) | failures.guarded("plan", beam.Map(_explode))


def test_a_real_stage_dead_letters_the_problem_it_failed_on(monkeypatch):
    import transforms.length as length

    def plan_for(assessment, settings):
        if assessment.problem_id == "src/2":
            raise ZeroDivisionError("hostile")
        return PLAN

    monkeypatch.setattr(length, "plan_for", plan_for)
    from schemas.plan import Assessment

    pairs = [(problem(f"src/{i}"), Assessment(problem_id=f"src/{i}", difficulty=0.5, difficulty_source="heuristic"))
             for i in range(4)]
    with TestPipeline() as p:
        failures.collect(p)
        planned = p | beam.Create(pairs) | PlanLength(LengthSettings())
        assert_that(planned | beam.Map(lambda pp: pp.problem.id), equal_to(["src/0", "src/1", "src/3"]), label="kept")
        assert_that(failures.collected(p) | beam.Map(lambda r: (r.row_id, r.stage, r.reason)),
                    equal_to([("src/2", "plan", "internal_error:ZeroDivisionError")]), label="dead")


class _AsyncFn(TeacherCallFn):
    """A teacher-calling stage whose work for one element raises after it was submitted."""

    async def _work(self, x):
        if x["id"] == "bad":
            raise KeyError("late")
        return x["id"]

    def process(self, x):
        yield from self.submit(self._work(x), x)


def test_a_teacher_stage_s_asynchronous_failure_is_that_element_s_dead_letter(tmp_path):
    fn = _AsyncFn("judge", Endpoint(TeacherSettings(base_url="http://127.0.0.1:9/v1"), str(tmp_path)))  # never called
    with TestPipeline() as p:
        failures.collect(p)
        rows = p | beam.Create([{"id": i, "source": "s"} for i in ("a", "bad", "c")])
        good = rows | failures.guarded("judge", beam.ParDo(fn))
        assert_that(good, equal_to(["a", "c"]), label="good")
        assert_that(failures.collected(p) | beam.Map(lambda r: (r.row_id, r.reason)),
                    equal_to([("bad", "internal_error:KeyError")]), label="dead")


def test_dead_letter_text_is_escaped_and_bounded():
    row = RejectRow(row_id="a\ud800\x00b", source="s", stage="x", reason="y", detail="\x1b[31m" + "z" * 10_000)
    assert row.row_id == "a\\ud800\\x00b" and row.detail.startswith("\\x1b[31m") and len(row.detail) <= 600
    row.row_id.encode("utf-8")  # writable


def test_the_text_rule():
    assert validate.clean_text("a\ud800b\x00c\x07d\te\nf\r\x85g") == "a\ufffdbcd\te\nf\rg"


@pytest.mark.parametrize("line, reason", [
    ('{"a": 1' + "0" * 5000 + "}", "number_too_long"),
    ('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested_too_deep"),
    ('{"a": NaN}', "bad_number"),
    ('{"a": -Infinity}', "bad_number"),
    ("[1]", "malformed_row"),
    ("{", "malformed_row"),
])
def test_unsafe_json_is_a_reason(line, reason):
    with pytest.raises(RowError) as err:
        validate.parse_json_line(line)
    assert err.value.reason == reason


@pytest.mark.parametrize("value, reason", [
    ("A, B", "wrong_type"), ('"AB"', "wrong_type"), ([["nested"]], "wrong_type"), ([True, False], "wrong_type"),
    ([str(i) for i in range(27)], "too_many_choices"), (["x" * 3000, "y"], "choice_too_long"),
])
def test_bad_choices_have_their_reason(value, reason):
    with pytest.raises(RowError) as err:
        validate.choices(value, LimitSettings())
    assert err.value.reason == reason


def test_twenty_six_choices_are_fine_and_a_json_list_string_is_read():
    assert len(validate.choices([f"o{i}" for i in range(26)], LimitSettings())) == 26
    assert validate.choices('["1", 2]', LimitSettings()) == ["1", "2"]


def test_metadata_depth_and_numbers_are_checked_without_recursion():
    deep = {}
    node = deep
    for _ in range(5000):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(RowError, match="nests deeper"):
        validate.metadata(deep, LimitSettings())
    with pytest.raises(RowError) as err:
        validate.metadata({"n": 2**70}, LimitSettings())
    assert err.value.reason == "number_out_of_range"


def test_root_confinement_follows_symlinks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "x.png").write_bytes(b"secret")
    (root / "in.png").write_bytes(b"ok")
    (root / "link.png").symlink_to(outside / "x.png")
    (root / "dir").symlink_to(outside, target_is_directory=True)
    (root / "inner").symlink_to(root / "in.png")  # a link that stays inside is fine
    assert read_image_file(str(root), "inner", 100) == b"ok"
    for rel in ("link.png", "dir/x.png", "../outside/x.png", "/etc/passwd", "C:/x.png"):
        with pytest.raises(RowError) as err:
            read_image_file(str(root), rel, 100)
        assert err.value.reason == "path_outside_root", rel
    with pytest.raises(RowError) as err:
        read_image_file(str(root), "in.png", 1)
    assert err.value.reason == "image_too_large"


@pytest.mark.parametrize("path, reason", [("a\x00.png", "bad_path"), ("a\nb.png", "bad_path"),
                                          ("http://127.0.0.1/x.png", "remote_image"), ("gs://b/x.png", "remote_image")])
def test_bad_image_paths(path, reason):
    with pytest.raises(RowError) as err:
        validate.image_path(path, remote_allowed=False)
    assert err.value.reason == reason


def _row(row_id: str, file: str, index: int) -> SourceRow:
    return SourceRow(row_id=row_id, source="s", split="train", fields={}, image_root=None, file=file, index=index)


@pytest.mark.parametrize("mode, expected", [("dead_letter", ["s/a", "s/b", "duplicate_id", "duplicate_id"]),
                                            ("rename", ["s/a", "s/b", "s/a#2", "s/a#3"])])
def test_repeated_ids_are_dead_lettered_or_renamed_in_position_order(mode, expected):
    rows = [_row("s/a", "f2", 1), _row("s/b", "f1", 1), _row("s/a", "f1", 9), _row("s/a", "f1", 2)]
    with TestPipeline() as p:
        repeated = p | beam.Create(rows) | RepeatedIds()
        assert_that(repeated, equal_to([("s/a", [("f1", 2), ("f1", 9), ("f2", 1)])]))
    table = {"s/a": [("f1", 2), ("f1", 9), ("f2", 1)]}
    got = []
    for row in (rows[3], rows[1], rows[2], rows[0]):
        try:
            got.append(unique_id(row, table, mode).row_id)
        except RowError as exc:
            got.append(exc.reason)
    assert got == expected


def test_an_overlong_jsonl_line_is_skipped_unread(monkeypatch):
    monkeypatch.setattr(read, "MAX_LINE_BYTES", 16)
    stream = io.BytesIO(b'{"a": 1}\n' + b"x" * 100 + b"\n" + b'{"b": 2}\n')
    assert list(read._lines(stream)) == [b'{"a": 1}\n', None, b'{"b": 2}\n']


def test_relative_source_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert read.absolute("data/x.jsonl") == os.path.join(str(tmp_path), "data/x.jsonl")
    assert read.absolute("gs://b/x.jsonl") == "gs://b/x.jsonl"


def test_a_row_the_writer_cannot_take_is_its_own_write_dead_letter(tmp_path):
    from schemas.derive import arrow_schema
    from transforms.write import WriteShards

    rows = [RejectRow(row_id="ok", source="s", stage="x", reason="y"), RejectRow(row_id="bad", source="s", stage="x", reason="y")]
    rows[1].detail = "lone \ud800"  # set after construction, past RejectRow's own escaping
    with TestPipeline() as p:
        failures.collect(p)
        written = p | beam.Create(rows) | WriteShards(str(tmp_path / "set"), arrow_schema(RejectRow), "row_id")
        assert_that(written | beam.Map(lambda pr: pr[1]), equal_to([1]), label="written")
        assert_that(failures.collected(p) | beam.Map(lambda r: (r.row_id, r.stage, r.reason)),
                    equal_to([("bad", "write", "bad_text")]), label="dead")
