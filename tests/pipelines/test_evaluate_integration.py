"""``mmcot evaluate`` against the real vLLM server: the session's OpenAI-compatible server, and a model directory
the command serves itself (the closed loop's students are evaluated that way)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipelines.embedded_teacher import prepare_embedded_teacher
from pipelines.evaluate import EvalSetup, model_endpoint, read_items, run_evaluation, served_name
from schemas.evaluation import EvalReport
from tests.support.paths import REPO
from transforms.evaluate import EvaluateSettings
from transforms.sources import SourceSettings
from transforms.synth import generate, write_jsonl
from transforms.verifiers import verify

pytestmark = pytest.mark.integration
ROOT = REPO


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    records = list(generate(8, 11))
    write_jsonl(records, folder)
    return folder / "problems.jsonl", {r.id: r for r in records}


def test_the_server_answers_every_problem_and_each_verdict_stands(vllm_server, problems, tmp_path):
    path, records = problems
    setup = EvalSetup(source=SourceSettings(kind="jsonl", path=str(path), name="heldout"),
                      ask=EvaluateSettings(max_tokens=48))
    with model_endpoint(str(tmp_path / "cache"), base_url=vllm_server.base_url, model=vllm_server.model,
                        max_in_flight=8) as endpoint:
        report = run_evaluation(setup, endpoint, str(tmp_path / "eval"))
        again = run_evaluation(setup, endpoint, str(tmp_path / "again"))
    assert report.read == report.evaluated == 8 and report.balanced() and not report.dead_lettered
    items = read_items(str(tmp_path / "eval"))
    for item in items:  # what the server sent, verified again here, gives the recorded verdict
        record = records[item.problem_id.split("/", 1)[1]]
        assert 0 < item.completion_tokens <= 48 and item.finish_reason in ("stop", "length")
        verdict = verify(item.content, record.answer, record.answer_type, record.choices or None,
                         finish_reason=item.finish_reason, config=setup.verify)
        assert (verdict.correct, verdict.reasons) == (item.correct, item.reasons)
    assert sum(i.finish_reason == "length" for i in items) == sum("truncated" in i.reasons for i in items)
    assert report.overall.correct == sum(i.correct for i in items)
    assert again.from_cache == 8 and again.overall == report.overall  # the rerun asks nothing


def test_the_command_serves_a_model_directory_itself(problems, tmp_path):
    path, _ = problems
    model_dir = prepare_embedded_teacher()
    out = tmp_path / "eval"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "evaluate", "--problems", str(path), "--model-dir",
                           str(model_dir), "--output-dir", str(out), "--max-tokens", "32", "--limit", "4",
                           "--cache-url", str(tmp_path / "cache")], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = EvalReport.from_json((out / "evaluation.json").read_text())
    assert report.model == served_name(model_dir) and report.endpoint.startswith("http://127.0.0.1:")
    assert report.read == report.evaluated == 4 and report.sampling["max_tokens"] == 32
    assert f"{report.model} on {path}" in done.stdout and "interval" in done.stdout
    assert json.loads((out / "evaluation.json").read_text())["overall"]["n"] == 4
