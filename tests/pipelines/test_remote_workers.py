"""Workers import mmcot from its wheel, not from this checkout; ``mmcot dedup`` on s3:// (moto's server).

The SDK harness is an EXTERNAL worker pool (``apache_beam.runners.worker.worker_pool_main``) started
from a fresh virtualenv (tests/support/venvs.py) that holds mmcot's dependencies and the mmcot wheel built
from this repo (no vLLM, no torch), with its working directory outside the repo; the job goes
through the portable runner's embedded job server. The same job against the venv without the wheel
must fail with ModuleNotFoundError, which shows the workers really are that venv.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.dedup_run import run_dedup
from pipelines.staging import build_wheel
from schemas.output_sets import PROBLEMS
from tests.support.venvs import REPO, deps_venv, python_of, wheel_venv
from transforms.dedup import DedupSettings
from transforms.normalize import NormalizeSettings
from transforms.sources import SourceSettings
from transforms.synth import write_parquet
from transforms.synth.duplicates import planted

pytestmark = pytest.mark.integration  # venvs, an external worker pool, moto's server
SOURCE = "w"
JOB_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would let a process import the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    return {**env, **extra}


@contextlib.contextmanager
def worker_pool(venv: Path, cwd: Path):
    """A Beam worker pool run by ``venv``'s interpreter in ``cwd``; yields its ``host:port``.

    The pool starts each SDK harness as ``python -c …``, so the venv's ``bin`` leads ``PATH``.
    """
    port = _free_port()
    log = open(cwd / "worker-pool.log", "wb")
    env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([str(python_of(venv)), "-m", "apache_beam.runners.worker.worker_pool_main",
                             f"--service_port={port}"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None, (cwd / "worker-pool.log").read_text()
            time.sleep(0.5)
        yield f"localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _dedup_cli(input_path: str, out: str, beam_args: list[str], python: str = sys.executable, cwd: Path = REPO,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pipelines.cli", "dedup", "--input", input_path, "--output", out,
                           "--name", SOURCE, *beam_args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=JOB_TIMEOUT_S)


def _kept_and_dropped(out: Path) -> tuple[set[str], set[tuple[str, str]]]:
    def rows(name, columns):
        return [r for f in sorted((out / name).glob("*.parquet")) for r in pq.read_table(f, columns=columns).to_pylist()]

    return ({r["id"] for r in rows(PROBLEMS.name, ["id"])},
            {(r["row_id"], r["reason"]) for r in rows("dropped", ["row_id", "reason"])})


@pytest.fixture(scope="module")
def venvs(tmp_path_factory):
    """(deps-only venv, venv with this checkout's wheel)."""
    root = tmp_path_factory.mktemp("venvs")
    wheel = build_wheel(root / "dist")
    return deps_venv(), wheel_venv(root / "with-mmcot", wheel)


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    """Planted duplicates as Parquet (images embedded), and DirectRunner's result on them."""
    root = tmp_path_factory.mktemp("workers")
    path = write_parquet(planted(60, seed=11).problems, root / "in" / "problems.parquet")
    counts = run_dedup([SourceSettings(kind="parquet", path=str(path), name=SOURCE)], NormalizeSettings(),
                       DedupSettings(), str(root / "direct"), [])
    assert counts.balanced() and counts.dropped, counts
    return path, _kept_and_dropped(root / "direct"), root


def _dedup_on_pool(venv: Path, path: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    """``mmcot dedup`` through the embedded job server onto a worker pool of ``venv``; (process, pool log)."""
    outside = tmp_path / "worker-cwd"
    outside.mkdir()
    with worker_pool(venv, outside) as address:
        proc = _dedup_cli(str(path), str(tmp_path / "external"),
                          ["--runner", "portable", "--environment_type=EXTERNAL", f"--environment_config={address}"])
    return proc, (outside / "worker-pool.log").read_text()


def test_external_workers_from_the_wheel_keep_what_direct_keeps(venvs, problems, tmp_path):
    path, direct, _ = problems
    proc, pool_log = _dedup_on_pool(venvs[1], path, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:] + pool_log[-3000:]
    assert "Starting worker" in pool_log  # the SDK harness ran in the pool, not in the launcher
    assert _kept_and_dropped(tmp_path / "external") == direct


def test_external_workers_without_the_wheel_fail_to_import_mmcot(venvs, problems, tmp_path):
    proc, pool_log = _dedup_on_pool(venvs[0], problems[0], tmp_path)
    assert proc.returncode != 0
    assert re.search(r"ModuleNotFoundError: No module named '(transforms|pipelines|schemas)", proc.stderr + pool_log)


def _moto_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def test_mmcot_dedup_on_s3_against_motos_server(venvs, problems, tmp_path):
    """The installed wheel (with the aws extra's packages) reads and writes s3:// as it does local files."""
    import boto3

    _, with_mmcot = venvs
    path, direct, _ = problems
    server, endpoint = _moto_server()
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="mmcot")
        s3.upload_file(str(path), "mmcot", "in/problems.parquet")
        s3.put_object(Bucket="mmcot", Key="out/sft/stale.parquet", Body=b"stale")  # cleared first, like a local run
        outside = tmp_path / "cwd"
        outside.mkdir()
        proc = _dedup_cli("s3://mmcot/in/problems.parquet", "s3://mmcot/out", [], python=str(python_of(with_mmcot)),
                          cwd=outside, env=_clean_env(**aws))
        assert proc.returncode == 0, proc.stderr[-3000:]
        local = tmp_path / "from-s3"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mmcot", Prefix="out/")["Contents"]]
        assert "out/sft/stale.parquet" not in keys
        for key in keys:
            if key.endswith(".parquet"):
                (local / key).parent.mkdir(parents=True, exist_ok=True)
                s3.download_file("mmcot", key, str(local / key))
        assert _kept_and_dropped(local / "out") == direct
        assert f"kept {len(direct[0])}" in proc.stdout
    finally:
        server.stop()
