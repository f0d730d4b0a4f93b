"""The batch backends: Generate through the OpenAI Files + Batches API (a stub on loopback), its failure rule,
a run killed after submission resumed by polling, and vLLM's real ``run_batch`` on the embedded model."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas.plan import SamplingPlan
from tests.support.batch_api_stub import BatchAPIStub
from tests.support.factories import PLAN, planned, problem
from tests.support.generate_run import run_generate
from tests.support.paths import REPO
from transforms.teachers.batch import BatchLedger
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import BatchSettings, TeacherSettings

ROOT = REPO
QUESTIONS = {"s/1": "How many dots?", "s/2": "How many squares?", "s/3": "How many lines?"}
def _endpoint(base_url: str, cache: Path, **batch) -> Endpoint:
    settings = TeacherSettings(backend="openai_batch", base_url=base_url, model="hosted-judge", cache_url=str(cache),
                               batch=BatchSettings(linger_s=0.2, poll_s=0.05, **batch))
    return Endpoint(settings, str(cache))


def generate(endpoint: Endpoint, questions: dict[str, str] = QUESTIONS, plan: SamplingPlan = PLAN):
    """Run Generate under ``plan``; (chains by problem id, dead letters, generate counters)."""
    items = [dataclasses.replace(planned(problem(pid=pid, question=q)), plan=plan) for pid, q in questions.items()]
    return run_generate(endpoint, items)


def test_a_bundle_goes_as_one_batch_its_results_come_back_by_custom_id_and_a_rerun_reads_the_cache(tmp_path):
    with BatchAPIStub(in_progress_polls=3) as stub:
        chains, dead, counters = generate(_endpoint(stub.base_url, tmp_path / "cache"))
        assert stub.counts["uploads"] == 1 and stub.counts["batches"] == 1 and stub.counts["polls"] >= 4
        assert stub.counts["online"] == 0 and not dead
        for pid, question in QUESTIONS.items():
            assert [g.sample_index for g in chains[pid].generations] == list(range(PLAN.n))
            assert all(question in g.reasoning and g.answer_text == "\\boxed{3}" and not g.cached
                       for g in chains[pid].generations)
        assert counters["requests"] == 3 and counters["tokens_out"] == 5 * 3 * PLAN.n  # a problem's samples: one line
        lines = stub.files["file-0"].splitlines()
        assert len(lines) == 3 and len({json.loads(line)["custom_id"] for line in lines}) == 3
        assert {json.loads(line)["url"] for line in lines} == {"/v1/chat/completions"}
        assert [json.loads(line)["body"]["n"] for line in lines] == [PLAN.n] * 3

        again, _, counters = generate(_endpoint(stub.base_url, tmp_path / "cache"))
        assert stub.counts["batches"] == 1 and counters["cache_hits"] == 3 * PLAN.n
        assert all(g.cached for c in again.values() for g in c.generations)
    assert BatchLedger(str(tmp_path / "cache")).index() == {json.loads(line)["custom_id"]: "batch_0" for line in lines}


def test_failed_and_expired_items_are_dead_lettered_by_default(tmp_path):
    with BatchAPIStub(fail_on=("squares",)) as stub:
        chains, dead, _ = generate(_endpoint(stub.base_url, tmp_path / "a"))
    assert sorted(chains) == ["s/1", "s/3"] and [d.row_id for d in dead] == ["s/2"]
    assert "batch_http_500" in dead[0].reason + dead[0].detail
    with BatchAPIStub(status="expired") as stub:
        chains, dead, _ = generate(_endpoint(stub.base_url, tmp_path / "b"))
    assert dead and all("batch_expired" in d.reason + d.detail for d in dead) and stub.counts["online"] == 0


def test_with_on_failure_online_only_the_failed_items_are_sent_again_online(tmp_path):
    with BatchAPIStub(status="expired", fail_on=("squares",)) as stub:
        chains, dead, counters = generate(_endpoint(stub.base_url, tmp_path / "c", on_failure="online"))
    items = len(stub.files[stub.batches["batch_0"]["input_file_id"]].splitlines())
    served_in_batch = sum(1 for line in stub.files[stub.batches["batch_0"]["output_file_id"]].splitlines())
    assert not dead and sorted(chains) == sorted(QUESTIONS)
    assert stub.counts["online"] == items - served_in_batch and counters["retries"] == stub.counts["online"]
    assert all(q in g.reasoning for pid, q in QUESTIONS.items() for g in chains[pid].generations)


CHILD = """
import sys
from pathlib import Path
from tests.transforms.teachers.test_batch_backend import _endpoint, generate
generate(_endpoint(sys.argv[1], Path(sys.argv[2])))
"""


def test_a_run_killed_after_submission_polls_the_recorded_batch_instead_of_submitting_again(tmp_path):
    cache = tmp_path / "cache"
    with BatchAPIStub(in_progress_polls=0) as stub:
        stub.hold = True  # the batch stays in progress until the first run is dead
        child = subprocess.Popen([sys.executable, "-c", CHILD, stub.base_url, str(cache)], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        deadline = time.monotonic() + 120
        while not (stub.counts["polls"] and BatchLedger(str(cache)).index()) and time.monotonic() < deadline:
            assert child.poll() is None, "the first run ended before it was killed"
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        assert stub.counts["batches"] == 1 and stub.counts["downloads"] == 0
        stub.hold = False
        chains, dead, counters = generate(_endpoint(stub.base_url, cache))
    assert stub.counts["uploads"] == 1 and stub.counts["batches"] == 1 and stub.counts["online"] == 0
    assert sorted(chains) == sorted(QUESTIONS) and not dead and counters["cache_misses"] == 3 * PLAN.n


@pytest.mark.integration
def test_vllm_run_batch_on_the_embedded_model_end_to_end(tmp_path):
    """The real ``run_batch`` on SmolLM2 (CPU): two problems × two samples, 16 tokens each, as one batch."""
    from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
    from transforms.teachers.settings import EngineSettings

    settings = TeacherSettings(backend="vllm_batch", model=EMBEDDED_MODEL_NAME, cache_url=str(tmp_path / "cache"),
                               engine=EngineSettings(model_path=str(prepare_embedded_teacher()), max_model_len=1024),
                               batch=BatchSettings(linger_s=0.5, poll_s=1.0))
    two = dict(list(QUESTIONS.items())[:2])
    chains, dead, counters = generate(Endpoint(settings, str(tmp_path / "cache")), two,
                                      dataclasses.replace(PLAN, n=2, max_tokens=16))
    batches = list((tmp_path / "cache" / "_batches").glob("*.output.jsonl"))
    assert len(batches) == 1 and not dead and sorted(chains) == sorted(two)
    outputs = [json.loads(line) for line in batches[0].read_text().splitlines()]
    assert len(outputs) == 2 and all(o["response"]["status_code"] == 200 for o in outputs)  # a problem's 2 samples: 1 line
    assert [len(o["response"]["body"]["choices"]) for o in outputs] == [2, 2]
    assert all(0 < g.completion_tokens <= 16 and g.prompt_tokens > 0 for c in chains.values() for g in c.generations)
    assert counters["requests"] == 2 and counters["tokens_out"] == sum(
        o["response"]["body"]["usage"]["completion_tokens"] for o in outputs)


def test_a_rerun_after_an_expired_batch_sends_only_its_unserved_items_again_in_a_new_batch(tmp_path):
    with BatchAPIStub(status=("expired", "completed")) as stub:
        chains, dead, _ = generate(_endpoint(stub.base_url, tmp_path / "cache"))
        served = [json.loads(line)["custom_id"] for line in stub.files[stub.batches["batch_0"]["output_file_id"]].splitlines()]
        assert dead and len(chains) + len(dead) == len(QUESTIONS)
        sent = [json.loads(line)["custom_id"] for line in stub.files[stub.batches["batch_0"]["input_file_id"]].splitlines()]
        chains, dead, counters = generate(_endpoint(stub.base_url, tmp_path / "cache"))
        resent = [json.loads(line)["custom_id"] for line in stub.files[stub.batches["batch_1"]["input_file_id"]].splitlines()]
    assert stub.counts["batches"] == 2 and not dead and sorted(chains) == sorted(QUESTIONS)
    assert len(resent) == len(sent) - len(served) and not set(resent) & set(served)
    assert counters["cache_hits"] == PLAN.n * len(served) and stub.counts["online"] == 0


def test_a_batch_that_cannot_be_polled_fails_after_max_attempts_polls(tmp_path):
    with BatchAPIStub() as stub:
        stub.lost = True
        endpoint = _endpoint(stub.base_url, tmp_path / "cache")
        endpoint = Endpoint(endpoint.settings.model_copy(update={"max_attempts": 3}), endpoint.cache_url)
        chains, dead, _ = generate(endpoint)
    assert not chains and len(dead) == len(QUESTIONS) and all("batch_failed" in d.reason + d.detail for d in dead)
    assert stub.counts["polls"] == 3 and stub.counts["batches"] == 1


def test_concurrent_first_calls_read_the_ledger_once_and_keep_what_a_submission_added(tmp_path, monkeypatch):
    """Calls that start together all read the batch ledger; a read finishing after this teacher submitted its
    batch must not replace the index that holds it (every request would then wait forever)."""
    from transforms.teachers.registry import create_teacher

    reads, lock = [], threading.Lock()
    read_index = BatchLedger.index

    def slow_after_the_first(self):
        with lock:
            reads.append(1)
            first = len(reads) == 1
        index = read_index(self)
        if not first:
            time.sleep(0.6)  # longer than linger_s: the batch is submitted before this read returns
        return index

    monkeypatch.setattr(BatchLedger, "index", slow_after_the_first)

    async def ask_all(teacher):
        asks = [teacher.complete([{"role": "user", "content": q}], PLAN, None, 0) for q in QUESTIONS.values()]
        try:
            return await asyncio.wait_for(asyncio.gather(*asks), timeout=20)
        finally:
            await teacher.aclose()

    with BatchAPIStub(in_progress_polls=20) as stub:  # the first batch still runs when the late reads return
        completions = asyncio.run(ask_all(create_teacher(_endpoint(stub.base_url, tmp_path / "cache").settings)))
    assert len(reads) == len(QUESTIONS)  # the first call's batch, then one for the two late calls
    assert stub.counts["batches"] == 2 and stub.counts["uploads"] == 2
    assert [q in c.content for q, (c,) in zip(QUESTIONS.values(), completions)] == [True] * len(QUESTIONS)
