"""One declaration per record (issue 31): every output set's Arrow schema and ``datasets`` features come from its
dataclass, equal what mmcot wrote before (the golden field list), and every row type survives Parquet, read by
pyarrow and by ``datasets.load_dataset``; a row whose fields are not its schema's is an error naming the field."""
from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.evaluate import ITEMS
from schemas.convert import RowMismatch, check_row, from_table, rows_table, to_row, to_table
from schemas.derive import Keys, arrow_schema, feature_dict, features, record_fields
from schemas.generation import Generation, Verdict
from schemas.output_sets import ORDERED_SETS, READ_COUNTS_SET, RUN_OUTPUTS, TRAINER_SETS, OutputSpec
from schemas.outputs import Message, RejectRow, SFTRow
from schemas.problem import ImageRef

GOLDEN = json.loads((Path(__file__).parent / "output_schemas.golden.json").read_text())
"""Each set's leaf fields (``path: arrow type``) as mmcot wrote them before the schemas were derived."""
SPECS: tuple[OutputSpec, ...] = (*RUN_OUTPUTS, READ_COUNTS_SET, ITEMS)
RECORDS = sorted({s.record for s in SPECS}, key=lambda c: c.__name__)
INT32, INT64 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1)


def leaves(kind: pa.DataType, path: str = ""):
    """``path: type`` of every leaf field (``[]`` marks a list), in order."""
    if pa.types.is_struct(kind):
        for f in kind:
            yield from leaves(f.type, f"{path}.{f.name}" if path else f.name)
    elif pa.types.is_list(kind):
        yield from leaves(kind.value_type, path + "[]")
    else:
        yield f"{path}: {kind}"


def all_fields(kind: pa.DataType):
    for f in kind:
        yield f
        inner = f.type
        while pa.types.is_list(inner):
            inner = inner.value_type
        if pa.types.is_struct(inner):
            yield from all_fields(inner)


# -- strategies drawn from the records' own type hints: a new field or record is covered with no test change --

def _strategy(tp, full: bool) -> st.SearchStrategy:
    markers: tuple = ()
    optional = False
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            markers += tp.__metadata__
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp, optional = next(a for a in typing.get_args(tp) if a is not type(None)), True
        else:
            break
    keys = next((m for m in markers if isinstance(m, Keys)), None)
    if keys is not None:
        inner = st.fixed_dictionaries({}, optional={k: st.booleans() for k in keys.names})
    elif dataclasses.is_dataclass(tp):
        inner = records(tp, full)
    elif typing.get_origin(tp) is list:
        inner = st.lists(_strategy(typing.get_args(tp)[0], full), min_size=1 if full else 0, max_size=3)
    elif tp is int:
        low, high = INT32 if pa.int32() in markers else INT64
        inner = st.integers(low, high)
    elif tp is float:
        inner = st.floats(allow_nan=False, width=32 if pa.float32() in markers else 64)
    else:
        inner = {str: st.text(max_size=20), bool: st.booleans(), bytes: st.binary(max_size=20)}[tp]
    return inner if not optional or full else st.none() | inner


@st.composite
def records(draw, cls, full: bool = False):
    """Records of ``cls`` with every field drawn (``full``: every optional set, every list non-empty)."""
    return cls(**{name: draw(_strategy(tp, full)) for name, tp in record_fields(cls)})


# -- the derived schemas are what mmcot wrote before --

def test_every_output_set_has_a_golden_field_list_and_no_more():
    assert set(GOLDEN) == {s.name for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_parquet_file_written_from_a_row_has_the_golden_fields(tmp_path, spec):
    record = _full_example(spec.record)
    path = tmp_path / "rows.parquet"
    pq.write_table(to_table([record], spec.schema), path)
    written = pq.read_schema(path)
    assert list(leaves(pa.struct(list(written)))) == GOLDEN[spec.name]
    assert all(f.nullable for f in all_fields(pa.struct(list(written))))  # as ``datasets`` writes them


def _full_example(cls):
    """One record of ``cls`` with every field set (hypothesis' simplest full example: reproducible)."""
    found = []

    @settings(max_examples=1, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(records(cls, full=True))
    def take(record):
        found.append(record)

    take()
    return found[0]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_derived_features_are_the_schema_metadata_and_declare_every_image_column(spec):
    meta = json.loads(spec.schema.metadata[b"huggingface"])
    assert meta == {"info": {"features": feature_dict(spec.record)}}
    built = features(spec.record)
    assert built.arrow_schema.equals(spec.schema, check_metadata=True)  # datasets' own reading gives the schema back
    declared = [name for name, f in built.items() if isinstance(getattr(f, "feature", f), datasets.Image)]
    image_layout = [leaf.split("[]")[0] for leaf in GOLDEN[spec.name] if leaf.endswith("[].bytes: binary")]
    assert declared == image_layout  # every {bytes, path} column decodes as PIL, nothing else does


def test_the_table_derives_trainer_sets_and_order():
    assert TRAINER_SETS == {"verl": ("rl",), "trl": ("sft_trl", "rl_trl", "preference_trl"),
                            "llamafactory": ("sft", "preference")}
    assert ORDERED_SETS == ("rl", "rl_trl")
    with pytest.raises(ValueError, match="unknown trainer 'axolotl'"):
        OutputSpec("x", RejectRow, "row_id", "x", trainer="axolotl")


# -- every row type round-trips --

@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_row_type_round_trips_through_parquet_with_pyarrow(tmp_path_factory, cls):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(records(cls), min_size=1, max_size=3))
    def round_trip(rows):
        path = tmp_path_factory.mktemp("rows") / "rows.parquet"
        pq.write_table(to_table(rows, arrow_schema(cls)), path)
        table = pq.read_table(path)
        assert table.schema.names == [f.name for f in dataclasses.fields(cls)]
        assert from_table(cls, table) == rows  # no field lost, renamed, retyped or cut

    round_trip()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_output_set_loads_with_datasets_as_written(tmp_path, spec):
    rows = [_full_example(spec.record), _full_example(spec.record)]
    (tmp_path / "data").mkdir()
    pq.write_table(to_table(rows, spec.schema), tmp_path / "data" / "train-00000-of-00001.parquet")
    loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "data" / "*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.features == features(spec.record)
    assert from_table(spec.record, loaded.with_format("arrow")[:]) == rows


# -- the guard where rows become tables --

def _sft_row() -> dict:
    return to_row(SFTRow(id="s/1", source="s", images=[ImageRef(b"x", None)], messages=[Message("user", "q")],
                         answer="3", answer_type="numeric", difficulty=0.5, pass_rate=0.5, teacher="t",
                         completion_tokens=3, selection="shortest"))


@pytest.mark.parametrize("change,field", [
    (lambda r: r.update(extra="x"), "extra"),
    (lambda r: r.pop("teacher"), "teacher"),
    (lambda r: r["messages"][0].update(name="bob"), "messages[].name"),
    (lambda r: r["messages"][0].pop("content"), "messages[].content"),
    (lambda r: r["images"][0].update(width=3), "images[].width"),
    (lambda r: r.update(signals={"tokens": 1, "entropy": 0.1}), "signals.entropy"),
])
def test_a_row_whose_fields_are_not_the_schema_s_is_an_error_naming_the_field(change, field):
    row = _sft_row()
    change(row)
    with pytest.raises(RowMismatch, match=re.escape(f"'{field}'")) as caught:
        rows_table([row], arrow_schema(SFTRow))
    assert caught.value.field == field


@given(st.text(min_size=1, max_size=12).filter(lambda k: k not in {f.name for f in dataclasses.fields(RejectRow)}))
def test_any_unknown_key_is_refused_and_any_missing_key_too(key):
    row = to_row(RejectRow(row_id="r", source="s", stage="x", reason="y"))
    with pytest.raises(RowMismatch, match="not in the schema"):
        check_row({**row, key: "v"}, arrow_schema(RejectRow))
    for name in row:
        with pytest.raises(RowMismatch, match="missing"):
            check_row({k: v for k, v in row.items() if k != name}, arrow_schema(RejectRow))


def test_a_verdict_may_leave_checks_out_but_not_name_unknown_ones(tmp_path):
    verdict = Verdict(correct=True, extracted_answer="3", checks={"answer_found": True})
    schema = arrow_schema(Generation)
    check_row({"verdict": to_row(verdict)}, pa.schema([schema.field("verdict")]))  # skipped checks are nulls
    with pytest.raises(RowMismatch, match=r"'verdict\.checks\.made_up'"):
        check_row({"verdict": {**to_row(verdict), "checks": {"made_up": True}}}, pa.schema([schema.field("verdict")]))


def test_a_record_of_another_set_is_refused_by_the_writer_guard_not_written_short():
    sft = _sft_row()
    with pytest.raises(RowMismatch, match="'id'"):
        rows_table([sft], arrow_schema(RejectRow))  # pyarrow alone would write an all-null reject row
    assert pa.Table.from_pylist([sft], schema=arrow_schema(RejectRow)).to_pylist()[0]["row_id"] is None


def test_a_record_the_set_does_not_take_is_a_write_dead_letter_naming_the_field(tmp_path):
    """A set fed another set's record (an SFT row into ``dead_letter/``): its own dead letter, the others written."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from transforms import failures
    from transforms.write import WriteShards

    sft = SFTRow(id="s/1", source="s", images=[], messages=[], answer="3", answer_type="numeric", difficulty=0.5,
                 pass_rate=0.5, teacher="t", completion_tokens=3, selection="shortest")
    with TestPipeline() as p:
        failures.collect(p)
        written = (p | beam.Create([RejectRow(row_id="ok", source="s", stage="x", reason="y"), sft])
                   | WriteShards(str(tmp_path / "set"), arrow_schema(RejectRow), "row_id"))
        assert_that(written | beam.Map(lambda pr: pr[1]), equal_to([1]), label="written")
        assert_that(failures.collected(p) | beam.Map(lambda r: (r.row_id, r.reason, "'id' is not in the schema" in r.detail)),
                    equal_to([("s/1", "schema_mismatch", True)]), label="dead")


@dataclasses.dataclass
class _Untyped:
    counts: dict[str, int]


@dataclasses.dataclass
class _Either:
    value: str | int


@pytest.mark.parametrize("cls,message", [(_Untyped, "no Arrow type for dict"), (_Either, "one type or None")])
def test_a_field_the_derivation_cannot_map_is_an_error_not_a_guess(cls, message):
    with pytest.raises(TypeError, match=message):
        arrow_schema(cls)
