"""Kill a run part way, rerun with the same cache: only missing samples reach the server.

Requests are counted at a pass-through proxy (fault rate 0) in front of the real vLLM server.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.fault_proxy import FaultProxy
from transforms.synth import generate, write_jsonl

pytestmark = pytest.mark.integration
N, K = 16, 2


def _config(tmp_path: Path, jsonl: Path, out: str, base_url: str, model: str) -> Path:
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump({
        "run": {"name": "resume", "output_dir": str(tmp_path / out)},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "length": {"samples": K, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 96}]},
        "teacher": {"base_url": base_url, "model": model, "cache_url": str(tmp_path / "cache"), "max_in_flight": 4},
        "verify": {"require_reasoning": False},
    }))
    return path


def _mmcot_run(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _cached(tmp_path: Path) -> int:
    return len(list((tmp_path / "cache").rglob("*.json")))


def _chains(out: Path) -> list[tuple]:
    rows = pq.read_table(out / "generations").to_pylist()
    return sorted((r["problem_id"], r["sample_index"], r["content"], r["verdict"]["correct"]) for r in rows)


def test_a_killed_run_resumes_without_paying_twice(tmp_path, vllm_server):
    jsonl = write_jsonl(list(generate(N, seed=21)), tmp_path / "data")
    with FaultProxy(vllm_server.base_url, rate=0.0, stall_s=0) as proxy:
        first = _mmcot_run(_config(tmp_path, jsonl, "killed", proxy.base_url, vllm_server.model))
        deadline = time.monotonic() + 600
        while _cached(tmp_path) < 6 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        done_before = _cached(tmp_path)
        assert 0 < done_before < N * K, "the kill must land part way"

        resumed = _mmcot_run(_config(tmp_path, jsonl, "resumed", proxy.base_url, vllm_server.model))
        assert resumed.wait(timeout=900) == 0
        # a problem's K samples go in one request: at most the kill's in-flight requests (4) are paid twice
        assert N * K <= proxy.samples <= N * K + 4 * K
        assert proxy.counts["forwarded"] * K == proxy.samples
        forwarded = proxy.counts["forwarded"]

        again = _mmcot_run(_config(tmp_path, jsonl, "again", proxy.base_url, vllm_server.model))
        assert again.wait(timeout=900) == 0
        assert proxy.counts["forwarded"] == forwarded, "a rerun of a finished run sends no request"
    assert _chains(tmp_path / "resumed") == _chains(tmp_path / "again")
    assert len(_chains(tmp_path / "resumed")) == N * K
