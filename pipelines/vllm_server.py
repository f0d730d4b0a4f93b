"""A local vLLM server speaking the OpenAI API, as a child process group, and the background teacher.

:class:`VllmServer` runs ``vllm.entrypoints.openai.api_server`` on a model directory with this
machine's CPU settings; :func:`serve_in_background` keeps one embedded-teacher server running
past the command that started it (a pidfile and a state file under ``mmcot_home()/run``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from pipelines.embedded_models import EmbeddedModel, embedded_model
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, mmcot_home
from transforms.teachers.vllm_cpu import (
    CPU_DTYPE,
    CPU_ENFORCE_EAGER,
    CPU_KV_CACHE_GIB,
    CPU_RESERVED_CPUS,
    vllm_environment,
)

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0
_LOG_TAIL_LINES = 40


class TeacherServerError(RuntimeError):
    """The teacher server could not be started or reached."""


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail_file(path: Path | None, lines: int = _LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a text file, or '' if unreadable."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _set_parent_death_signal() -> None:
    """In the child: get SIGTERM when the parent thread dies (Linux only)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name: state ppid pgrp ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def terminate_process_group(pgid: int, grace: float = STOP_GRACE_SECONDS) -> None:
    """Send SIGTERM to a process group, then SIGKILL whatever is left after ``grace``.

    Zombies do not count as alive, so an unreaped leader does not delay us.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_members(pgid):
        time.sleep(0.2)
    leftovers = group_members(pgid)
    if leftovers:
        log.warning("vLLM processes %s still running %.0f s after SIGTERM; killing them",
                    leftovers, grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


class VllmServer:
    """A vLLM OpenAI-compatible server run as a child process group.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    ``port=0`` picks a free port. The seed is set server-wide because a
    per-request ``seed`` in concurrent requests crashes vLLM's CPU engine.

    The defaults are the CPU settings of :mod:`transforms.teachers.vllm_cpu`
    (float32, eager, every core for the model). On a GPU pass ``dtype="auto"``,
    ``enforce_eager=False``, ``reserved_cpus=None``.
    ``die_with_parent`` stops the server if the thread that started it dies. ``max_images`` limits the
    images of one prompt (vLLM's ``limit_mm_per_prompt``; None: vLLM's default). ``env`` is added to
    the server's environment.
    """

    def __init__(
        self,
        model_dir: str | Path,
        served_model_name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        max_model_len: int = 2048,
        kv_cache_gib: int = CPU_KV_CACHE_GIB,
        extra_args: Sequence[str] = (),
        log_path: str | Path | None = None,
        die_with_parent: bool = False,
        dtype: str = CPU_DTYPE,
        enforce_eager: bool = CPU_ENFORCE_EAGER,
        reserved_cpus: int | None = CPU_RESERVED_CPUS,
        max_images: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.served_model_name = served_model_name
        self.host = host
        self.port = port
        self.seed = seed
        self.max_model_len = max_model_len
        self.kv_cache_gib = kv_cache_gib
        self.extra_args = tuple(extra_args)
        self.log_path = Path(log_path) if log_path is not None else None
        self.die_with_parent = die_with_parent
        self.dtype = dtype
        self.enforce_eager = enforce_eager
        self.reserved_cpus = reserved_cpus
        self.max_images = max_images
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI API root, e.g. ``http://127.0.0.1:8000/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """Process id (and process group id) of the server, if started."""
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        """The command line that launches the server."""
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_model_name,
            "--host", self.host,
            "--port", str(self.port),
            "--seed", str(self.seed),
            "--max-model-len", str(self.max_model_len),
            "--dtype", self.dtype,
            *(["--enforce-eager"] if self.enforce_eager else []),
            *(["--limit-mm-per-prompt", json.dumps({"image": self.max_images})] if self.max_images is not None else []),
            *self.extra_args,
        ]

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **vllm_environment(self.kv_cache_gib, self.reserved_cpus), **self.env}
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _open_log(self) -> Any:
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="mmcot-vllm-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log_path, "ab")

    def start(self, timeout: float = 300) -> VllmServer:
        """Launch the server and block until it lists the served model."""
        if self.process is not None:
            raise TeacherServerError("This VllmServer was already started")
        if self.port == 0:
            self.port = find_free_port(self.host)
        with self._open_log() as log_file:
            log.info("Starting vLLM for %s on %s (log: %s)",
                     self.served_model_name, self.base_url, self.log_path)
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, env=self._environment(), start_new_session=True,
                preexec_fn=_set_parent_death_signal if self.die_with_parent else None,
            )
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _failure(self, reason: str) -> TeacherServerError:
        tail = tail_file(self.log_path)
        return TeacherServerError(
            f"vLLM server for {self.served_model_name!r} {reason}. "
            f"Full log: {self.log_path}\n--- last lines of the log ---\n{tail}")

    def _wait_until_ready(self, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        assert self.process is not None
        with httpx.Client(timeout=5.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise self._failure(f"exited with code {code} during start-up")
                if self._lists_model(client):
                    log.info("vLLM ready at %s after %.0f s",
                             self.base_url, time.monotonic() - started)
                    return
                if time.monotonic() > deadline:
                    raise self._failure(f"was not ready after {timeout:.0f} s")
                time.sleep(0.5)

    def _lists_model(self, client: httpx.Client) -> bool:
        try:
            resp = client.get(f"{self.base_url}/models")
        except httpx.HTTPError:
            return False
        if resp.status_code != 200:
            return False
        ids = [m.get("id") for m in resp.json().get("data", [])]
        return self.served_model_name in ids

    def is_running(self) -> bool:
        """Tell whether the server process is still alive."""
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        """Block until the server process exits; return its exit code."""
        if self.process is None:
            raise TeacherServerError("The server was never started")
        return self.process.wait()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``grace``."""
        if self.process is None:
            return
        terminate_process_group(self.process.pid, grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        log.info("vLLM server on %s stopped", self.base_url)

    def __enter__(self) -> VllmServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------
# Background server with pidfile + state file
# --------------------------------------------------------------------------


def run_dir(home: Path) -> Path:
    """Where the background teacher keeps its pid, state and log."""
    return home / "run"


def _pid_path(home: Path) -> Path:
    return run_dir(home) / "teacher.pid"


def _state_path(home: Path) -> Path:
    return run_dir(home) / "teacher.json"


def _pid_alive(pid: int) -> bool:
    """Tell whether ``pid`` runs and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _clear_state(home: Path) -> None:
    for path in (_pid_path(home), _state_path(home)):
        path.unlink(missing_ok=True)


def background_state(home: Path | None = None) -> dict[str, Any] | None:
    """Return the state of the background teacher, or None if none is running.

    Stale files left by a server that died are removed.
    """
    home = Path(home) if home is not None else mmcot_home()
    try:
        pid = int(_pid_path(home).read_text().strip())
        state: dict[str, Any] = json.loads(_state_path(home).read_text())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid):
        log.info("Removing stale teacher state (pid %d is gone)", pid)
        _clear_state(home)
        return None
    return state


def embedded_server(name: str, home: Path | None = None, max_images: int | None = None, **server_kwargs: Any) -> VllmServer:
    """A server (not started) for the embedded model ``name``, prepared first if needed; a vision model takes at most
    ``max_images`` images per prompt."""
    model: EmbeddedModel = embedded_model(name)
    model_dir = model.prepare(home, False)
    return VllmServer(model_dir, model.name, max_images=max_images if model.vision else None, **server_kwargs)


def serve_in_background(
    home: Path | None = None, port: int = 0, timeout: float = 300, model: str = EMBEDDED_MODEL_NAME,
    max_images: int | None = None, **server_kwargs: Any
) -> dict[str, Any]:
    """Start the embedded model ``model`` in the background and return its state.

    If it is already running, its state is returned and nothing is started (another embedded model
    running is an error: one background teacher at a time). The state (``base_url``, ``model``,
    ``pid``, ``log_path``...) is kept in ``home/run/teacher.json`` and the pid in ``home/run/teacher.pid``.
    """
    home = Path(home) if home is not None else mmcot_home()
    existing = background_state(home)
    if existing is not None:
        if existing["model"] != model:
            raise TeacherServerError(f"the background teacher serves {existing['model']} at {existing['base_url']}; "
                                     "stop it first (mmcot teacher stop)")
        log.info("Teacher already running at %s", existing["base_url"])
        return existing
    server = embedded_server(model, home, max_images, port=port, log_path=run_dir(home) / "teacher.log", **server_kwargs)
    server.start(timeout=timeout)
    state = {"pid": server.pid, "base_url": server.base_url, "model": model, "model_dir": str(server.model_dir),
             "log_path": str(server.log_path), "max_model_len": server.max_model_len, "max_images": server.max_images,
             "started_at": time.time()}
    _state_path(home).write_text(json.dumps(state, indent=2) + "\n")
    _pid_path(home).write_text(f"{server.pid}\n")
    return state


def stop_background(home: Path | None = None, grace: float = STOP_GRACE_SECONDS) -> bool:
    """Stop the background teacher; return False if none was running."""
    home = Path(home) if home is not None else mmcot_home()
    state = background_state(home)
    if state is None:
        return False
    terminate_process_group(int(state["pid"]), grace)
    _clear_state(home)
    log.info("Stopped teacher at %s", state["base_url"])
    return True
