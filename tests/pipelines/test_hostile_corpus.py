"""The hostile corpus (tests/support/hostile_corpus.py) through ``mmcot dedup`` and ``mmcot run``, as a user runs them.

Each run is a subprocess of the CLI with an audit hook (``sitecustomize`` on PYTHONPATH, so every
Beam worker process loads it too) that logs any ``open`` of a path under ``outside/`` and any
connection to the loopback listener the URL rows name. Every row must end kept, dropped or
dead-lettered exactly once with its expected reason; nothing outside the root is opened; the
listener is never contacted; the teacher API key (a marker) appears in no output, log or cache.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import main
from tests.support import hostile_corpus
from tests.support.hostile_corpus import DEAD, DROPPED, KEPT
from tests.support.paths import REPO

MARKER = "sk-hostile-marker-5f0c9e1d"
HOOK = textwrap.dedent('''
    import os, sys
    _outside = os.environ.get("MMCOT_AUDIT_OUTSIDE")
    _log = os.environ.get("MMCOT_AUDIT_LOG")
    _port = int(os.environ.get("MMCOT_AUDIT_PORT", "0"))
    if _outside and _log:
        _fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _real = os.path.realpath(_outside)
        _busy = []
        os.write(_fd, f"start {os.getpid()}\\n".encode())

        def _hook(event, args):
            if _busy or event not in ("open", "socket.connect"):
                return
            _busy.append(1)
            try:
                if event == "open" and isinstance(args[0], (str, bytes)):
                    path = os.path.realpath(os.fsdecode(args[0]))
                    if path == _real or path.startswith(_real + os.sep):
                        os.write(_fd, f"open {os.getpid()} {path}\\n".encode())
                elif event == "socket.connect" and isinstance(args[1], tuple) and args[1][1:2] == (_port,):
                    os.write(_fd, f"connect {os.getpid()} {args[1]}\\n".encode())
            finally:
                _busy.pop()

        sys.addaudithook(_hook)
''')


class Listener:
    """A loopback TCP listener that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.sock.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, listener):
    return hostile_corpus.build(tmp_path_factory.mktemp("hostile"), listener.port)


@pytest.fixture()
def audited(tmp_path, corpus, listener):
    """Environment for a CLI subprocess with the audit hook, and a function reading what it logged."""
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    log = tmp_path / "audit.log"
    env = {**os.environ, "PYTHONPATH": f"{hook_dir}{os.pathsep}{REPO}", "MMCOT_AUDIT_OUTSIDE": str(corpus.outside),
           "MMCOT_AUDIT_LOG": str(log), "MMCOT_AUDIT_PORT": str(listener.port), "MMCOT_HOSTILE_KEY": MARKER}

    def events() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    return env, events


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def _rejects(out: Path, output_set: str) -> list[tuple[str, str]]:
    rows = []
    for shard in sorted((out / output_set).glob("*.parquet")):
        rows += [(r["row_id"], r["reason"]) for r in pq.read_table(shard, columns=["row_id", "reason"]).to_pylist()]
    return rows


def _ids(out: Path, output_set: str) -> list[str]:
    return [i for shard in sorted((out / output_set).glob("*.parquet")) for i in pq.read_table(shard, columns=["id"])["id"].to_pylist()]


def _outcomes(out: Path, kept_set: str) -> Counter:
    found = Counter((i, KEPT, "") for i in _ids(out, kept_set))
    found.update((i, DEAD, reason) for i, reason in _rejects(out, "dead_letter"))
    found.update((i, DROPPED, reason) for i, reason in _rejects(out, "dropped"))
    return found


def _assert_clean(result, events, listener, extra_dirs=()) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert [e for e in events() if not e.startswith("start ")] == [], "opened outside the root or contacted the listener"
    assert listener.accepted == 0
    for directory in extra_dirs:
        for path in Path(directory).rglob("*"):
            if path.is_file():
                assert MARKER.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    assert MARKER not in result.stdout + result.stderr


def test_the_audit_hook_and_listener_can_fail(audited, corpus, listener, tmp_path):
    env, events = audited
    code = (f"open({str(corpus.outside / 'sentinel.txt')!r}).read(); import socket; "
            f"socket.create_connection(('127.0.0.1', {listener.port})).close()")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    logged = events()
    assert any(e.startswith("open ") and e.endswith("sentinel.txt") for e in logged)
    assert any(e.startswith("connect ") for e in logged)
    listener.accepted = 0  # reset for the runs that follow


@pytest.mark.parametrize("runner", ["direct", pytest.param("direct-mp", marks=pytest.mark.integration)])
@pytest.mark.parametrize("layout", ["jsonl", "parquet"])
def test_mmcot_dedup_accounts_for_every_hostile_row(audited, corpus, listener, tmp_path, layout, runner):
    env, events = audited
    pattern, expected = (corpus.jsonl_glob, corpus.jsonl) if layout == "jsonl" else (corpus.parquet_glob, corpus.parquet)
    cwd = corpus.root.parent  # relative --input and --output resolve against the working directory
    out = tmp_path / "out"
    result = _cli(["dedup", "--input", os.path.relpath(pattern, cwd), "--output", os.path.relpath(out, cwd),
                   "--name", "hostile", "--runner", runner], env, cwd)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert _outcomes(out, "problems") == Counter(expected)
    _assert_clean(result, events, listener, [out])
    questions = {r["id"]: r["question"] for shard in (out / "problems").glob("*.parquet")
                 for r in pq.read_table(shard, columns=["id", "question"]).to_pylist()}
    if layout == "jsonl":  # the text rule: a lone surrogate becomes U+FFFD, control characters go
        assert questions["hostile/surrogate"].startswith("<image>Lone \ufffd surrogate")  # the image's marker first
        assert questions["hostile/control"].startswith("<image>Bell  and escape [31m")
    if runner == "direct-mp":
        assert len({e for e in events() if e.startswith("start ")}) >= 3, "the hook did not load in the worker processes"


def _run_config(corpus, out: Path, cache: Path, base_url: str, key_env: str) -> dict:
    return {
        "run": {"name": "hostile", "output_dir": str(out)},
        "source": {"kind": "jsonl", "path": corpus.jsonl_glob, "name": "hostile"},
        "length": {"samples": 1, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 24, "target_tokens": 16,
                                            "prompt_style": "concise"}]},
        "teacher": {"base_url": base_url, "model": "smollm2-135m-instruct", "api_key_env": key_env, "max_in_flight": 8},
        "verify": {"require_reasoning": False},
    }


def test_an_unset_api_key_variable_is_an_error_line(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MMCOT_UNSET_KEY_VARIABLE", raising=False)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_run_config(corpus, tmp_path / "out", tmp_path / "cache", "http://127.0.0.1:9/v1",
                                                 "MMCOT_UNSET_KEY_VARIABLE")))
    assert main(["run", "--config", str(config)]) == 2  # an exception instead would fail the test here
    stderr = capsys.readouterr().err
    assert "error:" in stderr and "MMCOT_UNSET_KEY_VARIABLE" in stderr


@pytest.mark.integration
@pytest.mark.parametrize("runner", ["direct", "direct-mp"])
def test_mmcot_run_accounts_for_every_hostile_row(audited, corpus, listener, tmp_path, vllm_server, runner):
    env, events = audited
    out, cache = tmp_path / "out", tmp_path / "cache"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_run_config(corpus, out, cache, vllm_server.base_url, "MMCOT_HOSTILE_KEY")))
    result = _cli(["run", "--config", str(config), "--cache-url", str(cache), "--runner", runner], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    found = Counter()
    for (i, outcome, reason), n in _outcomes(out, "sft").items():
        # a good row yields a kept chain or is dropped for having none (a 135M teacher is mostly wrong)
        found[(i, KEPT, "") if (outcome, reason) == (DROPPED, "no_correct_chain") else (i, outcome, reason)] += n
    assert found == Counter(corpus.jsonl)
    _assert_clean(result, events, listener, [out, cache])
