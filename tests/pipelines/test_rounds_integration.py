"""Two rounds on the real vLLM server: round 2 takes exactly round 1's ``no_correct_chain`` problems with another
sampling plan, the cross-round summary adds up, and a round 2 killed part way resumes without paying again for the
samples it finished (requests counted at a pass-through proxy in front of the server)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from data_cards.card import load_manifest
from schemas.plan import ASSESSMENT_TYPE
from tests.support.fault_proxy import FaultProxy
from transforms.synth import generate, write_jsonl

pytestmark = pytest.mark.integration
N, K1, K2 = 6, 2, 3


def _rounds_file(tmp_path: Path, base_url: str, model: str) -> Path:
    base = {
        "run": {"name": "rounds-real", "output_dir": "unused"},
        "source": {"kind": "jsonl", "path": str(write_jsonl(list(generate(N, seed=5)), tmp_path / "data")), "name": "synth"},
        "length": {"samples": K1, "temperature": 0.7, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 48}]},
        "teacher": {"base_url": base_url, "model": model, "cache_url": str(tmp_path / "cache"), "max_in_flight": 2,
                    "samples_per_request": 1},  # the kill lands between one problem's samples
        "verify": {"require_reasoning": False},
        "output": {"trainers": ["verl", "llamafactory"]},
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", "output_dir": str(tmp_path / "out"), "rounds": [
        {"name": "r1"},
        {"name": "r2", "takes": {"round": "r1", "outcomes": ["no_correct_chain"]},
         "set": {"length.samples": K2, "length.temperature": 1.0, "length.bands.0.max_tokens": 40}},
    ]}))
    return path


def _rounds(path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "rounds", "--config", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _cached(tmp_path: Path) -> int:
    return len(list((tmp_path / "cache").rglob("*.json")))


def _wait(condition, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def test_two_rounds_take_round_ones_failures_and_a_killed_round_resumes_from_the_cache(tmp_path, vllm_server):
    out = tmp_path / "out"
    with FaultProxy(vllm_server.base_url, rate=0.0, stall_s=0) as proxy:
        path = _rounds_file(tmp_path, proxy.base_url, vllm_server.model)
        first = _rounds(path)
        _wait(lambda: (out / "r1" / "manifest.json").exists(), first)
        _wait(lambda: (out / "rounds.json").exists(), first)
        after_r1 = _cached(tmp_path)
        assert after_r1 == N * K1 and proxy.counts["forwarded"] == N * K1
        _wait(lambda: _cached(tmp_path) >= after_r1 + 2, first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        r1 = load_manifest(str(out / "r1"))
        failed = r1.counts.dropped.get("select/no_correct_chain", 0)
        done_before = _cached(tmp_path) - after_r1
        assert failed >= 1 and 0 < done_before < failed * K2, "the kill must land part way through round 2"
        assert not (out / "r2" / "manifest.json").exists()

        forwarded = proxy.counts["forwarded"]
        resumed = _rounds(path)
        assert resumed.wait(timeout=900) == 0
        paid = proxy.counts["forwarded"] - forwarded
        assert failed * K2 - done_before <= paid <= failed * K2 - done_before + 2  # at most the kill's in-flight pay twice

    r2 = load_manifest(str(out / "r2"))
    dropped = pq.read_table(out / "r1" / "dropped").to_pylist()
    assert set(pq.read_table(out / "r2" / "problems")["id"].to_pylist()) == {
        r["row_id"] for r in dropped if r["reason"] == "no_correct_chain"}
    assert r2.counts.read == failed and r2.counts.balanced()
    plans = pq.read_table(out / "r2" / "generations", columns=["sampling"])["sampling"].to_pylist()
    assert {(p["n"], p["temperature"], p["max_tokens"]) for p in plans} == {(K2, 1.0, 40)}
    assert r2.stats["chains_from_cache"] >= done_before

    summary = json.loads((out / "rounds.json").read_text())
    s1, s2 = summary["rounds"]
    assert (s1["ran"], s2["ran"]) == (False, True)  # round 1 was finished: the resumed invocation did not rerun it
    assert (s2["read"], s2["taken"]) == (failed, failed)
    assert s1["read"] == N == s1["kept"] + sum(s1["dropped"].values()) + sum(s1["dead_lettered"].values())
    assert s2["read"] == s2["kept"] + sum(s2["dropped"].values()) + sum(s2["dead_lettered"].values())
    assert summary["kept_total"] == s1["kept"] + s2["kept"] and s2["rescued"] == s2["kept"]
    assert s1["completion_tokens"] == r1.stats["completion_tokens"]
    card = (out / "README.md").read_text()
    assert "| r1 | sources | 6 |" in card and f"| r2 | r1: no_correct_chain | {failed} | {failed} | {s2['kept']} |" in card
    gens = pq.read_table(out / "r2" / "generations")
    assert gens.schema.field("assessment").type == ASSESSMENT_TYPE
    assert all(g["assessment"]["problem_id"] == g["problem_id"] and g["assessment"]["difficulty_source"] == "metadata"
               for g in gens.to_pylist())
    problems = datasets.load_dataset(str(out / "r1"), "problems", split="train", cache_dir=str(tmp_path / "hf"))
    assert problems.num_rows == N and problems[0]["images"][0].size[0] > 0  # decoded: problems/ declares Image
