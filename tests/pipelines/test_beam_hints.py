"""Every stage's type hints pass Beam's pipeline-construction type check, in every optional wiring of the graph.

Since apache-beam 2.78, Beam resolves the string annotations that ``from __future__ import annotations`` leaves on
functions (2.77 read them as ``Any``), so every hint of a function in a Map/FlatMap or a DoFn's ``process`` is now
checked against the PCollection it is applied to, and a dataclass element type gets Beam's row coder. A union of row
dataclasses with the same field names (``RLRow | TRLRLRow``) is folded into one merged schema type that neither row
is consistent with, and an ``X | None`` output feeding a stage typed ``X`` is refused. These tests build the whole
graph (not run it) for configurations that between them switch on every optional stage, then translate it to Beam's
runner API (a coder for every PCollection, as a portable or remote runner needs).
"""
from __future__ import annotations

import dataclasses
import gc
import weakref

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.typehints.decorators import TypeCheckError

from pipelines.build import build_pipeline
from pipelines.config import parse_config
from pipelines.endpoints import run_endpoints
from schemas.outputs import Message, RewardModel, RLExtraInfo, RLRow, TRLRLRow
from schemas.problem import ImageRef
from tests.support.helpers import png_bytes
from transforms.curriculum import order_key, with_index
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Script, scripted_settings
from transforms.trl_rows import trl_rl_row

TEACHER = "hints-teacher"
WIRINGS = {
    "sample defaults": {},
    "judge, r1v_drlc, judge difficulty, score pairs": {
        "judge": {}, "assess": {"difficulty_from": "judge", "min_quality": 2}, "length": {"policy": "r1v_drlc"},
        "scorer": {}, "select": {"pairs": "score", "rl_order": "difficulty", "min_chain_quality": 1}},
    "pass-rate probe, answer judge, chain dedup, repair": {
        "length": {"policy": "pass_rate"}, "assess": {"difficulty_from": "pass_rate"}, "answer_judge": {},
        "dedup": {"chains": {"enabled": True}}, "repair": {"enabled": True}, "select": {"rl_order": "pass_rate"}},
    "no TRL sets, id order": {"output": {"trainers": ["verl", "llamafactory"]}, "select": {"rl_order": "id"}},
}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    scripted_settings(Script(), name=TEACHER)
    return write_jsonl(list(generate(4, seed=5)), tmp_path_factory.mktemp("hints-data"))


def _config(tmp_path, source, overrides: dict):
    return parse_config({
        "run": {"name": "hints", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(source), "name": "synth"},
        "teacher": {"backend": "scripted", "model": TEACHER, "cache_url": str(tmp_path / "cache")},
        **overrides,
    })


@pytest.mark.parametrize("wiring", list(WIRINGS))
def test_the_whole_graph_type_checks_and_has_a_coder_for_every_pcollection(wiring, tmp_path, source):
    config = _config(tmp_path, source, WIRINGS[wiring])
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner", "direct"]))
    with run_endpoints(config) as endpoints:
        build_pipeline(pipeline, config, endpoints)  # raises TypeCheckError on a hint Beam refuses
    proto = pipeline.to_runner_api()
    assert proto.components.pcollections and all(pc.coder_id for pc in proto.components.pcollections.values())
    labels = {t.unique_name for t in proto.components.transforms.values()}
    assert any("Write_rl_trl" in label for label in labels) == ("trl" in config.output.trainers)


def test_a_built_graph_is_freed_once_the_launcher_lets_go_of_it(tmp_path, source):
    """Nothing mmcot keeps (the failure collectors, the endpoints) holds a run's pipeline after the run: the launcher's
    memory after the job serves the report (issue 29)."""
    config = _config(tmp_path, source, WIRINGS["pass-rate probe, answer judge, chain dedup, repair"])
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner", "direct"]))
    with run_endpoints(config) as endpoints:
        build_pipeline(pipeline, config, endpoints)
    built, transform = weakref.ref(pipeline), weakref.ref(pipeline.transforms_stack[0].parts[-1])
    del pipeline
    gc.collect()
    assert built() is None and transform() is None


def _rl_rows() -> list[TRLRLRow]:
    rows = [RLRow(data_source="mmcot/s", prompt=[Message("user", "<image>How many?")], images=[ImageRef(png_bytes(), "a.png")],
                  ability="counting", reward_model=RewardModel("rule", str(n)),
                  extra_info=RLExtraInfo(f"s/{n}", "train", "numeric", [], 0.5, n / 4, 2)) for n in range(3)]
    return [trl_rl_row(r) for r in rows]


def test_a_union_of_the_rl_row_types_is_refused_where_the_curriculum_typevar_passes():
    """Why the curriculum is typed with a constrained TypeVar: under today's Beam the union hint fails on TRL's RL rows
    (the shape of the 2.78 ``SortKeys`` failure), while :func:`order_key` and :func:`with_index` type-check and run."""
    assert [f.name for f in dataclasses.fields(RLRow)] == [f.name for f in dataclasses.fields(TRLRLRow)]

    def union_key(row: RLRow | TRLRLRow) -> tuple:
        return order_key("id")(row)

    with pytest.raises(TypeCheckError, match="TRLRLRow"):
        p = beam.Pipeline()
        _ = p | beam.Create(_rl_rows()) | "SortKeys" >> beam.Map(union_key)
    with beam.Pipeline() as p:
        rows = p | beam.Create(_rl_rows())
        keys = rows | "SortKeys" >> beam.Map(order_key("difficulty"))
        indexed = rows | "Index" >> beam.Map(with_index, 7)
        assert indexed.element_type is TRLRLRow
        assert_that(keys, equal_to([(n / 4, -0.5, f"s/{n}") for n in range(3)]), label="Keys")
        assert_that(indexed | beam.Map(lambda r: r.extra_info.index), equal_to([7, 7, 7]), label="Indexed")
