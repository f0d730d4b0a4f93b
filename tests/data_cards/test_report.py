"""The run report's data, page and server on a small finished run built from records (no teacher, no browser).

The browser tests (``test_report_browser.py``) open the page itself on a real run.
"""
from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from data_cards.report.problems import image_view, matches, problem_details, problem_index
from data_cards.report.serve import ReportServer
from data_cards.report.shards import OutputShards
from pipelines.cli import main
from pipelines.run import write_run_report
from tests.data_cards.test_card_publish import _config, fake_records, run_copy, run_dir  # noqa: F401  (the card tests' finished run)
from tests.support.helpers import png_bytes, write_run_records
from tests.support.paths import REPO

GENERATIONS = "generations/train-00000-of-00001.parquet"


def _data(html: str) -> dict:
    blob = re.search(r'<script id="mmcot-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    return json.loads(blob)


def _by_id(problems: list[dict]) -> dict[str, dict]:
    return {p["id"]: p for p in problems}


def test_mmcot_run_writes_the_report_with_every_problem_and_its_outcome(run_dir):
    data = _data((run_dir / "report.html").read_text())
    problems = _by_id(data["problems"])
    assert sorted(problems) == [f"s/{i}" for i in range(8)]  # read = 8, every one listed
    assert {p: (x["outcome"], x["reason"]) for p, x in problems.items() if x["outcome"] != "kept"} == {
        "s/5": ("dropped", "select/no_correct_chain"), "s/6": ("dropped", "dedup/duplicate"),
        "s/7": ("dead-lettered", "normalize/missing_answer")}
    assert [s["remaining"] for s in data["summary"]["funnel"]] == [8, 7, 6, 6, 6, 6, 5]
    assert data["summary"]["facets"]["band"] == {"easy": 2, "hard": 2, "medium": 2}
    assert problems["s/6"]["survivor_id"] == "s/0" and problems["s/6"]["chains"] == []


def test_chains_carry_plan_verdict_and_marks_and_one_is_kept(run_dir):
    problems = _by_id(problem_details(OutputShards(str(run_dir)), problem_index(OutputShards(str(run_dir)))))
    s0, s5 = problems["s/0"], problems["s/5"]
    kept = [c for c in s0["chains"] if c["kept"]]
    assert [c["completion_tokens"] for c in kept] == [12]  # the SFT row's chain: 12 tokens, correct
    assert [c["verdict"]["status"] for c in s0["chains"]] == ["correct", "wrong", "correct"]
    assert s0["chains"][1]["verdict"]["reasons"] == ["wrong_answer"] and s0["chains"][0]["plan"]["band"] == "easy"
    assert (s0["n_chains"], s0["n_correct"], s0["in_rl"]) == (3, 2, True)
    assert [c["provenance"] for c in s5["chains"]] == ["teacher"] * 3 + ["repair"]  # the repair counted apart
    assert s5["n_chains"] == 3 and not any(c["kept"] for c in s5["chains"]) and s5["question"] == ""
    assert s0["question"].startswith("<image>q") and s0["answer"] == "3"  # the RL prompt's text, verl's ground truth


def _add_columns_other_branches_write(out: Path) -> None:
    """Judge scores per chain, a chain score, an ``unverifiable`` verdict and a ``problems`` set."""
    gens = pq.read_table(out / GENERATIONS)
    n = gens.num_rows
    verdict = gens["verdict"].combine_chunks()
    unverifiable = pa.array([i == 0 for i in range(n)])
    fields = {f.name: child for f, child in zip(verdict.type, verdict.flatten())}
    fields["unverifiable"] = unverifiable  # a column the answers work added to the verdict
    verdict = pa.StructArray.from_arrays(list(fields.values()), list(fields))
    gens = gens.set_column(gens.schema.get_field_index("verdict"), "verdict", verdict)
    for name, column in (("assessment", pa.array([{"vision_score": 0.25, "judge_model": "judge-x"}] * n)),
                         ("chain_score", pa.array([4.0] * n))):
        gens = gens.drop_columns([name]) if name in gens.column_names else gens
        gens = gens.append_column(name, column)
    pq.write_table(gens, out / GENERATIONS)
    table = pa.Table.from_pylist([{"id": "s/5", "source": "s", "question": "Which bar is tallest?", "answer": "B",
                                   "choices": ["A", "B"], "subject": "charts",
                                   "images": [{"bytes": png_bytes(color=(0, 200, 0)), "path": "p.png"}]}])
    (out / "problems").mkdir()
    pq.write_table(table, out / "problems/train-00000-of-00001.parquet")


def test_columns_other_branches_add_are_read_by_name(run_copy):
    out = run_copy
    _add_columns_other_branches_write(out)
    shards = OutputShards(str(out))
    problems = _by_id(problem_details(shards, problem_index(shards)))
    s5, s0 = problems["s/5"], problems["s/0"]
    assert s5["question"] == "Which bar is tallest?" and s5["choices"] == ["A", "B"] and s5["answer"] == "B"
    assert s5["facts"] == {"subject": "charts"} and s5["images"][0]["src"].startswith("data:image/png")
    assert s0["scores"] == {"vision_score": 0.25, "judge_model": "judge-x"}
    assert s0["chains"][0]["verdict"]["status"] == "unverifiable" and s0["chains"][0]["extra"] == {"chain_score": 4.0}
    assert problem_index(shards)[5]["question"] == "Which bar is tallest?"  # the search sees it too


def test_a_reject_rows_payload_is_shown_and_its_question_searched(run_copy):
    rows = pq.read_table(run_copy / "dead_letter").to_pylist()
    rows[0]["payload"] = json.dumps({"question": "What is 2 + 2?", "answer": ""})
    pq.write_table(pa.Table.from_pylist(rows, pq.read_schema(run_copy / "dead_letter/train-00000-of-00001.parquet")),
                   run_copy / "dead_letter/train-00000-of-00001.parquet")
    shards = OutputShards(str(run_copy))
    index = problem_index(shards)
    s7 = _by_id(problem_details(shards, index))["s/7"]
    assert s7["question"] == "What is 2 + 2?" and json.loads(s7["facts"]["payload"])["answer"] == ""
    assert [e["id"] for e in index if matches(e, {"q": "2 + 2"})] == ["s/7"]


def test_an_older_output_without_provenance_or_marks_still_reads(run_copy):
    out = run_copy
    gens = pq.read_table(out / GENERATIONS)
    pq.write_table(gens.drop_columns(["provenance", "duplicate_of", "cached"]), out / GENERATIONS)
    (out / "rl" / "train-00000-of-00001.parquet").unlink()
    shards = OutputShards(str(out))
    s5 = _by_id(problem_details(shards, problem_index(shards)))["s/5"]
    assert s5["n_chains"] == 4 and {c["provenance"] for c in s5["chains"]} == {"teacher"}


def _to_memory(local: Path, url: str) -> None:
    fs = fsspec.filesystem("memory")
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe(f"{url}/{path.relative_to(local).as_posix()}", path.read_bytes())


def test_an_object_storage_output_gives_the_same_report(run_dir, capsys):
    url = "memory://bucket/runs/fake"
    _to_memory(run_dir, url)
    fsspec.filesystem("memory").rm(f"{url}/report.html")
    assert main(["view", url]) == 0
    written = re.search(r"wrote (\S+)", capsys.readouterr().out).group(1)
    assert written.startswith("memory://") and written.endswith("bucket/runs/fake/report.html")
    with fsspec.open(written, "r") as fh:
        remote = _data(fh.read())
    local = _data((run_dir / "report.html").read_text())
    assert remote["problems"] == local["problems"] and remote["summary"]["funnel"] == local["summary"]["funnel"]
    assert remote["summary"]["run"]["out_dir"] == url


def test_the_page_loads_nothing_from_the_network(run_dir):
    html = (run_dir / "report.html").read_text()
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html) and "<link" not in html
    assert "default-src 'none'" in html  # and the CSP forbids it anyway


def test_large_images_are_scaled_and_undecodable_ones_say_so():
    big = io.BytesIO()
    Image.new("RGB", (2000, 1000), (10, 120, 200)).save(big, format="PNG")
    view = image_view({"bytes": big.getvalue(), "path": "big.png"})
    shown = Image.open(io.BytesIO(base64.b64decode(view["src"].split(",", 1)[1])))
    assert (view["width"], view["height"]) == (2000, 1000) and shown.size == (512, 256)
    assert "undecodable" in image_view({"bytes": b"not an image", "path": "x.png"})["error"]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_server_pages_and_filters_an_object_storage_output(run_dir):
    url = "memory://bucket/runs/served"
    _to_memory(run_dir, url)
    with ReportServer(url) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            page = _data(resp.read().decode())
        assert page["mode"] == "serve" and page["problems"] is None and page["summary"]["problems"] == 8
        first = _get(server.url + "api/problems?limit=3")
        second = _get(server.url + "api/problems?limit=3&offset=3")
        assert first["total"] == 8 and [p["id"] for p in first["problems"] + second["problems"]] == [f"s/{i}" for i in range(6)]
        assert first["problems"][0]["chains"] and first["problems"][0]["images"][0]["src"].startswith("data:image/")
        hard = _get(server.url + "api/problems?band=hard")
        assert [p["id"] for p in hard["problems"]] == ["s/4", "s/5"]
        dropped = _get(server.url + "api/problems?outcome=dropped&reason=dedup/duplicate")
        assert [p["id"] for p in dropped["problems"]] == ["s/6"]
        assert _get(server.url + "api/problems?q=S/3")["total"] == 1
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "api/nothing", timeout=10)
        assert err.value.code == 404


def test_mmcot_view_serve_answers_on_loopback_and_a_non_run_is_refused(run_dir, tmp_path, capsys):
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "view", str(run_dir), "--serve", "--port", "0"],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", line).group(1)
        assert _get(url + "api/problems?outcome=kept")["total"] == 5
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert main(["view", str(tmp_path)]) == 2
    assert "not a finished mmcot run" in capsys.readouterr().err


def test_a_run_larger_than_its_sample_shows_the_sample_whole_and_says_so(tmp_path):
    sets, dead = fake_records()
    config = _config(tmp_path)
    config = config.model_copy(update={"output": config.output.model_copy(update={"sample_problems": 3})})
    write_run_records(config, sets, dead)
    write_run_report(config, "pytest", 1.0, "r-sampled")
    data = _data((tmp_path / "report.html").read_text())
    sample = data["summary"]["sample"]
    problems = _by_id(data["problems"])
    assert not sample["whole"] and sample["read"] == 8 and sample["limit"] == 3
    assert 3 <= sample["problems"] == len(problems) < 8  # the 3 lowest id hashes, plus a first of each set
    assert data["summary"]["funnel"][0]["remaining"] == 8  # the funnel counts every problem
    kept, rejected = {r.id for r in sets["sft"]}, {r.row_id: r for r in [*sets["dropped"], *dead]}
    for pid, problem in problems.items():  # a sampled problem comes with all of its rows, in every set
        assert len(problem["chains"]) == sum(g.problem_id == pid for g in sets["generations"]), pid
        assert problem["outcome"] == "kept" if pid in kept else problem["reason"].endswith(rejected[pid].reason)
        assert problem["in_rl"] == (pid in {r.extra_info.id for r in sets["rl"]})
