"""The sample pipeline with everything on gs:// (a GCS emulator on loopback) gives a local run's rows.

``gcp-storage-emulator`` serves the GCS JSON API on loopback; ``STORAGE_EMULATOR_HOST`` points
Beam's GCS filesystem and gcsfs at it. The response cache is filled once against the real vLLM
server; then a local run and a gs:// run (input, images, cache, outputs, manifest, card) both read
every chain from that cache, with a teacher URL nothing listens on (``cache_only``: not checked before the run), so
any cache miss would show.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import fsspec
import pyarrow.parquet as pq
import pytest

from pipelines.config import load_config
from pipelines.run import run_pipeline
from transforms.synth import generate, write_jsonl

pytestmark = pytest.mark.integration

BUCKET = "mmcot-test"
DEAD_TEACHER = "http://127.0.0.1:1/v1"
ROW_SETS = {"sft": "id", "rl": None, "preference": "id"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """An in-memory GCS emulator with one bucket; STORAGE_EMULATOR_HOST set for this process and its children."""
    port = _free_port()
    log = open(tmp_path_factory.mktemp("gcs") / "emulator.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port",
                             str(port), "--in-memory", "--default-bucket", BUCKET], stdout=log, stderr=subprocess.STDOUT)
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "GCS emulator did not start"
                time.sleep(0.3)
        yield fsspec.core.url_to_fs(f"gs://{BUCKET}")[0]  # as mmcot resolves it (token="anon" retries a gRPC probe)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


def _config(source: str, out: str, cache: str, teacher_url: str, model: str):
    return load_config("configs/sample.yaml", {
        "run.name": "gcs-check", "run.output_dir": out, "source.path": source, "teacher.cache_url": cache,
        "teacher.base_url": teacher_url, "teacher.model": model, "length.samples": 2, "teacher.max_in_flight": 8,
        "length.bands": [{"name": "easy", "max_difficulty": 0.5, "max_tokens": 48, "target_tokens": 20, "prompt_style": "concise"},
                         {"name": "hard", "max_difficulty": 1.0, "max_tokens": 64, "target_tokens": 30, "prompt_style": "standard"}],
    })


def _rows(out: str, name: str) -> list[dict]:
    fs, root = fsspec.core.url_to_fs(out)
    rows = []
    for path in sorted(fs.glob(f"{root}/{name}/*.parquet")):
        with fs.open(path, "rb") as fh:
            rows += pq.read_table(fh).to_pylist()
    return sorted(rows, key=repr)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_a_gs_run_writes_what_a_local_run_writes_from_the_same_cache(gcs, vllm_server, tmp_path):
    src = tmp_path / "src"
    jsonl = write_jsonl(list(generate(6, seed=21)), src)
    fill = run_pipeline(_config(str(jsonl), str(tmp_path / "fill"), str(tmp_path / "cache"), vllm_server.base_url,
                                vllm_server.model), [])
    assert fill.stats["chains"] == 12 and fill.stats["chains_from_cache"] == 0
    for local_dir, prefix in ((src, "src"), (tmp_path / "cache", "cache")):
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):  # one request at a time: the emulator is serial
            gcs.pipe_file(f"{BUCKET}/{prefix}/{path.relative_to(local_dir).as_posix()}", path.read_bytes())
    gcs.pipe_file(f"{BUCKET}/out/sft/train-stale.parquet", b"stale")  # cleared first, like a local run

    local = run_pipeline(_config(str(jsonl), str(tmp_path / "local"), str(tmp_path / "cache"), DEAD_TEACHER,
                                 vllm_server.model), [], cache_only=True)
    remote_out = f"gs://{BUCKET}/out"
    remote = run_pipeline(_config(f"gs://{BUCKET}/src/problems.jsonl", remote_out, f"gs://{BUCKET}/cache", DEAD_TEACHER,
                                  vllm_server.model), [], cache_only=True)

    for manifest in (local, remote):
        assert manifest.counts.balanced() and manifest.counts.read == 6 and not manifest.counts.dead_lettered
        assert manifest.stats["chains_from_cache"] == 12
    assert remote.counts == local.counts and remote.rows == local.rows
    for name in ROW_SETS:
        assert _rows(remote_out, name) == _rows(str(tmp_path / "local"), name), name
    assert not gcs.exists(f"{BUCKET}/out/sft/train-stale.parquet")
    assert {"manifest.json", "README.md"} <= {p.rsplit("/", 1)[-1] for p in gcs.ls(f"{BUCKET}/out")}
    assert all(gcs.exists(f"{BUCKET}/out/{p}") for p in remote.plots) and remote.plots

    card = gcs.cat_file(f"{BUCKET}/out/README.md")
    gcs.rm(f"{BUCKET}/out/README.md")
    proc = _cli("card", remote_out)
    assert proc.returncode == 0, proc.stderr
    assert gcs.cat_file(f"{BUCKET}/out/README.md") == card  # `mmcot card` renders the run's card byte for byte

    proc = _cli("publish", remote_out, "--repo-id", "me/gcs-run", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert all(s.path in proc.stdout for s in remote.shards) and "manifest.json" in proc.stdout
    assert f"{remote_out}/manifest.json" in proc.stdout
