"""Reading the three source layouts and validating rows into Problems or dead letters."""
from __future__ import annotations

import json

import apache_beam as beam
import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.source import SourceRow
from tests.support.helpers import png_bytes
from transforms.confined import read_image_file
from transforms.normalize import NormalizeProblems, NormalizeSettings, RowError, to_problem
from transforms.sources import ReadProblems, SourceSettings
from transforms.tags import DEAD_LETTER, READ_COUNTS


def _row(root, **fields):
    base = {"question": "How many dots?", "answer": "3", "images": ["img/a.png"]}
    base.update(fields)
    return SourceRow(row_id="s/1", source="s", split="train", fields=base, image_root=str(root))


@pytest.fixture
def image_root(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(png_bytes())
    (tmp_path / "img" / "bad.png").write_bytes(b"garbage")
    (tmp_path / "secret.png").write_bytes(png_bytes())
    return tmp_path


def test_a_good_row_becomes_a_problem_with_hashed_images(image_root):
    problem = to_problem(_row(image_root, choices=None, metadata={"difficulty": 0.3}), NormalizeSettings())
    assert problem.answer_type == "numeric"
    assert len(problem.images) == 1 and problem.images[0].bytes.startswith(b"\x89PNG")
    assert len(problem.image_meta[0].sha256) == 64 and json.loads(problem.metadata) == {"difficulty": 0.3}


def test_answer_type_is_inferred_from_choices_and_numbers(image_root):
    assert to_problem(_row(image_root, choices=["1", "2"], answer="B"), NormalizeSettings()).answer_type == "multiple_choice"
    assert to_problem(_row(image_root, answer="x^2 + 1"), NormalizeSettings()).answer_type == "expression"
    assert to_problem(_row(image_root, answer="a red circle"), NormalizeSettings()).answer_type == "free_form"
    assert to_problem(_row(image_root, answer=7), NormalizeSettings()).answer == "7"


@pytest.mark.parametrize(
    "fields,reason",
    [
        ({"question": "  "}, "missing_question"),
        ({"answer": None}, "missing_answer"),
        ({"question": ["a list"]}, "wrong_type"),
        ({"choices": "not json"}, "wrong_type"),
        ({"answer_type": "essay"}, "bad_answer_type"),
        ({"answer_type": "multiple_choice"}, "wrong_type"),
        ({"images": []}, "missing_image"),
        ({"images": ["img/nope.png"]}, "missing_image"),
        ({"images": ["img/bad.png"]}, "unreadable_image"),
        ({"images": ["../secret.png"]}, "path_outside_root"),
        ({"images": ["img/../../secret.png"]}, "path_outside_root"),
        ({"images": ["/etc/passwd"]}, "path_outside_root"),
        ({"metadata": "{broken"}, "wrong_type"),
    ],
)
def test_bad_rows_raise_with_their_reason(image_root, fields, reason):
    with pytest.raises(RowError) as err:
        to_problem(_row(image_root, **fields), NormalizeSettings())
    assert err.value.reason == reason


def test_an_image_path_inside_the_root_resolves(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"png")
    assert read_image_file(str(tmp_path), "img/../img/a.png", 100) == b"png"


def _run_read(settings: SourceSettings):
    with TestPipeline() as p:
        read = p | ReadProblems(settings)
        normalized = read.rows | NormalizeProblems(NormalizeSettings())
        assert_that(normalized.problems | "ids" >> beam.Map(lambda pr: (pr.id, pr.answer)),
                    equal_to([("src/p1", "3"), ("src/p2", "B")]), label="problems")
        dead = (read[DEAD_LETTER], normalized[DEAD_LETTER]) | beam.Flatten()
        assert_that(dead | "reasons" >> beam.Map(lambda r: (r.row_id.split(":")[0], r.reason)),
                    equal_to(EXPECTED_DEAD[settings.kind]), label="dead")
        assert_that(read[READ_COUNTS] | "counts" >> beam.Map(lambda c: c.rows), equal_to([EXPECTED_READ[settings.kind]]), label="read")


EXPECTED_DEAD = {
    "jsonl": [("src/problems", "malformed_row"), ("src/p3", "missing_answer")],
    "parquet": [("src/p3", "missing_answer")],
    "hf_disk": [("src/p3", "missing_answer")],
}
EXPECTED_READ = {"jsonl": 4, "parquet": 3, "hf_disk": 3}
ROWS = [
    {"qid": "p1", "q": "How many?", "answer": "3"},
    {"qid": "p2", "q": "Which?", "answer": "B", "choices": ["x", "y"]},
    {"qid": "p3", "q": "No answer", "answer": None},
]
COLUMNS = {"id": "qid", "question": "q", "images": "picture"}


def test_jsonl_source_with_column_mapping_and_a_malformed_line(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(png_bytes())
    lines = [json.dumps({**r, "picture": "img/a.png"}) for r in ROWS]
    (tmp_path / "problems.jsonl").write_text("\n".join([lines[0], "{not json", "", *lines[1:]]) + "\n")
    _run_read(SourceSettings(kind="jsonl", path=str(tmp_path / "problems.jsonl"), name="src", columns=COLUMNS))


def _hf_rows():
    image = {"bytes": png_bytes(), "path": "a.png"}
    return [{**r, "choices": r.get("choices", []), "picture": [image]} for r in ROWS]


def test_parquet_source_in_the_hugging_face_image_layout(tmp_path):
    pq.write_table(pa.Table.from_pylist(_hf_rows()), tmp_path / "p.parquet")
    _run_read(SourceSettings(kind="parquet", path=str(tmp_path / "*.parquet"), name="src", columns=COLUMNS))


def test_saved_hugging_face_dataset_source(tmp_path):
    features = datasets.Features({"qid": datasets.Value("string"), "q": datasets.Value("string"),
                                  "answer": datasets.Value("string"), "choices": datasets.List(datasets.Value("string")),
                                  "picture": datasets.List(datasets.Image())})
    datasets.Dataset.from_list(_hf_rows(), features=features).save_to_disk(str(tmp_path / "ds"))
    _run_read(SourceSettings(kind="hf_disk", path=str(tmp_path / "ds"), name="src", columns=COLUMNS))


def test_a_source_path_that_matches_nothing_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"sources\[x\]\.path: no files match"), TestPipeline() as p:
        p | ReadProblems(SourceSettings(kind="jsonl", path=str(tmp_path / "none*.jsonl"), name="x"))
