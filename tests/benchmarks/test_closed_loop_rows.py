"""The closed loop's data plumbing (``benchmarks/closed_loop.py``), without a model: the decontamination check finds a
planted copy of a held-out problem, and the students' rows carry exactly the prompt ``mmcot evaluate`` asks with."""
from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.closed_loop import decontaminate, generation_rows, sft_rows
from pipelines.config import load_config
from pipelines.run import run_pipeline
from schemas.convert import from_table
from schemas.generation import Generation
from schemas.problem import Problem
from transforms.rows import assistant_text
from transforms.student import student_messages
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

CONFIG = "configs/loop.yaml"


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """A train set of 16 and a held-out set of 10, the train set with one held-out problem copied in (image and all)."""
    root = tmp_path_factory.mktemp("loop")
    train, heldout = root / "train", root / "heldout"
    write_jsonl(list(generate(10, 2)), heldout)
    write_jsonl(list(generate(16, 1)), train)
    copied = json.loads((heldout / "problems.jsonl").read_text().splitlines()[3])
    shutil.copy(heldout / copied["images"][0], train / "images" / "planted.png")
    original = copied["id"]
    copied.update(id="planted-copy", images=["images/planted.png"])
    with open(train / "problems.jsonl", "a") as fh:
        fh.write(json.dumps(copied) + "\n")
    return root, train, heldout, original


def test_the_check_drops_the_train_copy_of_a_heldout_problem_and_keeps_the_heldout_set(sets):
    root, train, heldout, original = sets
    found = decontaminate(train, heldout, load_config(CONFIG), root)
    assert found["read"] == 27 and found["train_duplicating_heldout"] == 1
    assert found["examples"] == {"planted-copy": f"heldout/{original}"}
    clean = [json.loads(line)["id"] for line in (train / "clean.jsonl").read_text().splitlines()]
    assert "planted-copy" not in clean and len(clean) == 16
    kept = pq.read_table(root / "decontam" / "problems").to_pylist()
    assert sum(row["source"] == "heldout" for row in kept) == 10  # the preferred set loses nothing


def test_student_rows_carry_the_evaluated_prompt_and_the_runs_chains(sets, tmp_path):
    _, train, _, _ = sets
    script = Script(rules=[Rule(Reply("<think>The bars say so.</think> The answer is \\boxed{B}."), match="Options")],
                    default=Reply("<think>Counting.</think> The answer is \\boxed{3}."))
    config = load_config(CONFIG, {"source.path": str(train / "problems.jsonl"), "run.output_dir": str(tmp_path / "run"),
                                  "teacher.cache_url": str(tmp_path / "cache")})
    run_pipeline(config.model_copy(update={"teacher": scripted_settings(script)}), [], command="test")
    run = tmp_path / "run"
    problems = {p.id: p for p in from_table(Problem, pq.read_table(run / "problems"))}
    sft = pq.read_table(run / "sft").to_pylist()
    rows, tokens = sft_rows(run)
    assert sft and len(rows) == len(sft) and tokens == [r["completion_tokens"] for r in sft]
    for row, written in zip(rows, sft):
        assert row["prompt"] == student_messages(problems[written["id"]], "text")  # what evaluate asks
        assert row["completion"][0]["content"] == written["messages"][1]["content"]
    generations = from_table(Generation, pq.read_table(run / "generations"))
    every, _ = generation_rows(run)
    assert len(every) == len(generations) > len(rows)
    assert sorted(r["completion"][0]["content"] for r in every) == sorted(assistant_text(g) for g in generations)

    shard = next((run / "sft").glob("*.parquet"))
    table = pq.read_table(shard).to_pylist()
    table[0]["messages"][0]["content"] += " (edited)"
    pq.write_table(pa.Table.from_pylist(table, schema=pq.read_schema(shard)), shard)
    with pytest.raises(ValueError, match="not the student prompt"):
        sft_rows(run)
