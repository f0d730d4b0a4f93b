"""The two-image synthetic family: pictures match the stored counts, answers follow from them,
both images are written in both layouts, and after read + normalize the markers and images are
in the order the question cites them."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from schemas.source import SourceRow
from transforms.normalize import NormalizeSettings, to_problem
from transforms.synth import FAMILIES, generate, write_jsonl, write_parquet
from transforms.synth.compare_counts import CELLS, SIZE
from transforms.synth.draw import PALETTE

PROBLEMS = list(generate(30, 3, ["compare_counts"], (0.0, 1.0)))


def _count(image, colour) -> int:
    step = SIZE / CELLS
    rgb = image.convert("RGB")
    return sum(rgb.getpixel((int((c + 0.5) * step), int((r + 0.5) * step))) == PALETTE[colour]
               for r in range(CELLS) for c in range(CELLS))


def test_two_pictures_whose_counts_give_the_answer():
    assert "compare_counts" not in FAMILIES  # opt-in: the default mix (and the demo's figures) stay as they were
    assert {p.params["kind"] for p in PROBLEMS} == {"difference", "total", "which"}
    for p in PROBLEMS:
        first, second = p.params["counts"]
        assert len(p.images) == 2 and [_count(i, p.params["colour"]) for i in p.images] == [first, second]
        assert sorted(p.params["cited"]) == [1, 2] and first != second
        if p.params["kind"] == "difference":
            assert p.answer == str(abs(first - second))
            assert p.question.index(f"<image{2 if second > first else 1}>") < p.question.index(f"<image{1 if second > first else 2}>")
        elif p.params["kind"] == "total":
            assert p.answer == str(first + second)
        else:
            shown = [p.params["counts"][i - 1] for i in p.params["cited"]]
            right = "the picture shown first" if shown[0] > shown[1] else "the picture shown second"
            assert p.choices["ABCD".index(p.answer)] == right


def test_both_layouts_hold_both_images_and_normalize_puts_them_where_the_question_cites_them(tmp_path):
    jsonl = write_jsonl(PROBLEMS, tmp_path)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    table = pq.read_table(write_parquet(PROBLEMS, tmp_path / "p.parquet")).to_pylist()
    for p, row, prow in zip(PROBLEMS, rows, table):
        assert len(row["images"]) == 2 == len(prow["images"]) and row["images"][1].endswith("-2.png")
        problem = to_problem(SourceRow(p.id, "synth", "train", row, str(tmp_path)), NormalizeSettings())
        assert problem.question.count("<image>") == 2 and "<image1>" not in problem.question
        assert [i.path for i in problem.images] == [row["images"][k - 1].split("/")[-1] for k in p.params["cited"]]
