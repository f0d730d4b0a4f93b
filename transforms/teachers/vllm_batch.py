"""The ``vllm_batch`` backend: vLLM's offline batch runner (``python -m vllm.entrypoints.openai.run_batch``) on a local model.

A batch is a ``run_batch`` process over the batch file, started in its own session (it outlives
a killed run) and writing its output under ``<cache>/_batches/`` (a local cache directory): the
output file appears, renamed from ``.part``, only once the process succeeds. Polling reads it:
present → ``completed``; the process still alive (its pid is recorded) → ``in_progress``; else
``failed`` (its log is ``<batch id>.log``). The model is ``engine.model_path`` (the embedded
teacher when empty), served under ``model``, with the engine's dtype, eager mode and context
length (CPU defaults on a CPU host, as the in-process engine).
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec

from transforms.teachers.batch import BatchState, BatchTeacher, result_lines
from transforms.teachers.settings import TeacherSettings
from transforms.teachers.vllm_cpu import CPU_DTYPE, CPU_ENFORCE_EAGER, CPU_RESERVED_CPUS, vllm_environment

RENAME_ON_SUCCESS = '"$@" && mv -- "$0.part" "$0"'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunBatchService:
    """Runs each batch as a ``run_batch`` process on the local model."""

    def __init__(self, settings: TeacherSettings):
        fs, root = fsspec.core.url_to_fs(settings.cache_url or "")
        if not settings.cache_url or not ("file" in fs.protocol or "local" in fs.protocol):
            raise ValueError(f"teacher.backend vllm_batch needs a local response cache (got {settings.cache_url!r})")
        if not settings.engine.model_path:
            raise ValueError("teacher.backend vllm_batch needs engine.model_path")
        self._settings = settings
        self._dir = Path(root) / "_batches"
        self._procs: dict[str, subprocess.Popen] = {}

    def command(self, input_path: Path, output_path: Path, on_cpu: bool) -> list[str]:
        """The ``run_batch`` command line for one batch (writing ``<output>.part``)."""
        s, engine = self._settings, self._settings.engine
        eager = engine.enforce_eager if engine.enforce_eager is not None else (CPU_ENFORCE_EAGER and on_cpu)
        return [sys.executable, "-m", "vllm.entrypoints.openai.run_batch", "-i", str(input_path),
                "-o", f"{output_path}.part", "--model", engine.model_path, "--served-model-name", s.model,
                "--dtype", engine.dtype or (CPU_DTYPE if on_cpu else "auto"), "--max-model-len", str(engine.max_model_len),
                "--seed", str(s.seed), *(["--enforce-eager"] if eager else [])]

    def _paths(self, batch_id: str) -> tuple[Path, Path, Path, Path]:
        return tuple(self._dir / f"{batch_id}.{kind}" for kind in ("input.jsonl", "output.jsonl", "pid", "log"))

    def _start(self, batch_id: str, jsonl: bytes) -> None:
        from vllm.platforms import current_platform

        input_path, output_path, pid_path, log_path = self._paths(batch_id)
        self._dir.mkdir(parents=True, exist_ok=True)
        input_path.write_bytes(jsonl)
        env = {**os.environ, **vllm_environment(self._settings.engine.cpu_kv_cache_gib, CPU_RESERVED_CPUS)}
        command = self.command(input_path, output_path, current_platform.is_cpu())
        with open(log_path, "ab") as log:
            process = subprocess.Popen(["sh", "-c", RENAME_ON_SUCCESS, str(output_path), *command], env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        pid_path.write_text(str(process.pid))
        self._procs[batch_id] = process

    async def submit(self, jsonl: bytes) -> str:
        """Start ``run_batch`` on the batch file; the batch id."""
        batch_id = f"vllm-batch-{uuid.uuid4().hex[:12]}"
        await asyncio.to_thread(self._start, batch_id, jsonl)
        return batch_id

    def _state(self, batch_id: str) -> BatchState:
        _, output_path, pid_path, _ = self._paths(batch_id)
        if output_path.exists():
            return BatchState("completed", result_lines(output_path.read_text(errors="replace")))
        process = self._procs.get(batch_id)
        if process is not None:
            running = process.poll() is None
        else:  # a batch an earlier run started
            running = pid_path.exists() and _alive(int(pid_path.read_text()))
        return BatchState("in_progress") if running else BatchState("failed", [])

    async def poll(self, batch_id: str) -> BatchState:
        """The batch's state, read off its files and process."""
        return await asyncio.to_thread(self._state, batch_id)

    async def aclose(self) -> None:
        """Stop the batches this service started that still run."""
        for process in self._procs.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                await asyncio.to_thread(process.wait, 30)


def vllm_batch_teacher(settings: TeacherSettings) -> BatchTeacher:
    """A batch teacher running vLLM's ``run_batch`` on ``settings.engine.model_path``."""
    return BatchTeacher(settings, RunBatchService(settings))
