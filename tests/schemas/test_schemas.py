"""Every stage-boundary record and output row round-trips through Parquet unchanged."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.convert import from_table, to_table
from schemas.derive import arrow_schema
from schemas.generation import Generation, Verdict
from schemas.manifest import Counts, Manifest, ShardInfo
from schemas.outputs import Message, RejectRow, RewardModel, RLExtraInfo, RLRow, SFTRow
from schemas.plan import Assessment, SamplingPlan
from schemas.problem import ImageMeta, ImageRef, Problem

IMAGE = ImageRef(bytes=b"\x89PNG fake", path="a.png")
PLAN = SamplingPlan(n=4, max_tokens=256, temperature=0.8, top_p=0.95, repetition_penalty=1.1,
                    prompt_style="concise", length_budget=256, policy="token_budget", band="easy")

CASES = [
    Problem(id="s/1", source="s", split="train", question="How many?", answer="3", answer_type="numeric",
            images=[IMAGE], image_meta=[ImageMeta(10, 20, "PNG", "ab" * 32, "0f" * 8)], choices=[],
            subject="counting", caption="three dots", metadata='{"difficulty": 0.2}'),
    Assessment(problem_id="s/1", difficulty=0.4, difficulty_source="metadata", clarity=0.7),
    Generation(problem_id="s/1", teacher="t", sample_index=2, content="<think>x</think> \\boxed{3}", reasoning="x",
               answer_text="\\boxed{3}", finish_reason="stop", prompt_tokens=10, completion_tokens=7, latency_s=0.5,
               sampling=PLAN, difficulty=0.4, cache_key="k", cached=True,
               verdict=Verdict(correct=False, extracted_answer="4", checks={"answer_found": True, "answer_match": False},
                               reasons=["wrong_answer"])),
    SFTRow(id="s/1", source="s", images=[IMAGE], messages=[Message("user", "<image>q"), Message("assistant", "a")],
           answer="3", answer_type="numeric", difficulty=0.4, pass_rate=0.5, teacher="t", completion_tokens=7,
           selection="shortest_correct of 4"),
    RLRow(data_source="s", prompt=[Message("user", "<image>q")], images=[IMAGE], ability="counting",
          reward_model=RewardModel("rule", "3"),
          extra_info=RLExtraInfo(id="s/1", split="train", answer_type="numeric", choices=[], pass_rate=0.25,
                                 difficulty=0.4, num_samples=4)),
    RejectRow(row_id="s/2", source="s", stage="dedup", reason="duplicate", detail="d", survivor_id="s/1"),
]


@pytest.mark.parametrize("record", CASES, ids=lambda c: type(c).__name__)
def test_record_round_trips_through_parquet(tmp_path, record):
    path = tmp_path / "rows.parquet"
    pq.write_table(to_table([record], arrow_schema(type(record))), path)
    back = from_table(type(record), pq.read_table(path))
    assert back == [record]


def test_output_schemas_carry_huggingface_image_features():
    for schema in (arrow_schema(SFTRow), arrow_schema(RLRow)):
        assert b'"_type": "Image"' in schema.metadata[b"huggingface"]


def test_a_verdict_check_the_schema_does_not_know_is_refused_not_dropped():
    with pytest.raises(ValueError, match="made_up"):
        Verdict(correct=True, extracted_answer="3", checks={"answer_found": True, "made_up": True})


def test_a_record_that_does_not_fit_its_schema_is_rejected():
    bad = Assessment(problem_id="s/1", difficulty="hard", difficulty_source="metadata")  # type: ignore[arg-type]
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        to_table([bad], arrow_schema(Assessment))


def test_manifest_round_trips_through_json_and_checks_its_accounting():
    counts = Counts(read=10, kept=6, dropped={"select/no_correct_chain": 2}, dead_lettered={"normalize/missing_answer": 2})
    manifest = Manifest(run_id="r", created_at="now", command="mmcot run", config_hash="h", config={"a": 1},
                        versions={"pyarrow": "25"}, counts=counts, stats={"chains": 40.0}, rows={"sft": 6},
                        shards=[ShardInfo("sft", "sft/train-00000-of-00001.parquet", 6, 100, "ff")], wall_time_s=1.5)
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert counts.balanced()
    assert not Counts(read=11, kept=6, dropped={"x/y": 2}, dead_lettered={"a/b": 2}).balanced()
