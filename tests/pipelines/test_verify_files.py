"""``mmcot verify`` on files: verdict per row, clear error on a missing column."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from pipelines.cli import main


def test_verify_command_writes_a_verdict_per_row(tmp_path, capsys):
    rows = [
        {"content": "so \\boxed{\\frac{1}{2}}", "answer": "0.5", "finish_reason": "stop"},
        {"content": "The answer is (B)", "answer": "B", "choices": ["1", "2"], "answer_type": "multiple_choice"},
        {"content": "I think \\boxed{7}", "answer": "8"},
        {"content": "counting 1 2 3 4", "answer": "4", "finish_reason": "length"},
        {"content": "so \\boxed{250 cm}", "answer": "2.5", "unit": "m"},  # the unit column is the gold's unit
        {"content": "so \\boxed{2.5 kg}", "answer": "2.5", "unit": "m"},
    ]
    src = tmp_path / "outs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["verify", "--input", str(src), "--output", str(tmp_path / "v"), "--no-reasoning"]) == 0
    verdicts = pq.read_table(tmp_path / "v" / "verdicts.parquet")["verdict"].to_pylist()
    assert [v["correct"] for v in verdicts] == [True, True, False, False, True, False]
    assert "wrong_answer" in verdicts[2]["reasons"] and "truncated" in verdicts[3]["reasons"]
    assert verdicts[4]["decided_by"] == "units" and verdicts[5]["reasons"] == ["wrong_answer"]
    assert "3 correct" in capsys.readouterr().out


def test_verify_command_names_the_missing_column(tmp_path, capsys):
    src = tmp_path / "outs.jsonl"
    src.write_text(json.dumps({"text": "x", "answer": "1"}) + "\n")
    assert main(["verify", "--input", str(src), "--output", str(tmp_path / "v")]) == 2
    assert "content, output" in capsys.readouterr().err
