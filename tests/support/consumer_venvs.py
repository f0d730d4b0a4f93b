"""Virtualenvs for trainer libraries that cannot share mmcot's environment (verl, LLaMA-Factory).

Each venv sees the packages of the environment the tests run in (a ``.pth`` file adds its site-packages after the
venv's own, as ``--system-site-packages`` would for the base interpreter: CI runs in a virtualenv of its own), torch,
transformers and mmcot's own dependencies, and adds or overrides only what its library needs, so a build installs
little. A venv is keyed by its requirement list and mmcot's lock, and cached under ``/root/.cache/mmcot/venvs/``
(``MMCOT_VENV_DIR`` overrides); it is built once per machine, under a file lock, into a temporary
directory renamed when finished, so a half-built venv is never used. ``torch==2.13.0`` is always
installed first and pinned for every later step: an unpinned torch would pull a multi-GB CUDA build.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

TORCH = "torch==2.13.0"
MMCOT_LOCK = REPO / "requirements" / "cpu-test.txt"
PARENT_PTH = "_mmcot_parent_env.pth"


@dataclass(frozen=True)
class VenvSpec:
    """A named venv: packages installed without their dependencies, then ordinary requirements."""

    name: str
    no_deps: tuple[str, ...]
    requirements: tuple[str, ...]
    drop_globs: tuple[str, ...] = ()  # files removed from site-packages after installing

    def key(self) -> str:
        text = json.dumps([TORCH, sys.version, self.no_deps, self.requirements, self.drop_globs, MMCOT_LOCK.read_text()])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


VERL = VenvSpec(
    name="verl",
    no_deps=("verl==0.9.1",),
    # what verl's data, protocol and reward-loading modules import (its own pins would downgrade transformers).
    # Not qwen-vl-utils: it imports torchvision, whose PyPI build needs CUDA's libraries (see verl_check.py)
    requirements=("ray==2.60.0", "tensordict>=0.8,<=0.10.0,!=0.9.0", "omegaconf", "hydra-core", "codetiming", "pylatexenc"),
)
LLAMAFACTORY = VenvSpec(
    name="llamafactory",
    no_deps=("llamafactory==0.9.5", "torchaudio==2.11.1"),  # no torchaudio build for torch 2.13 exists
    # llamafactory 0.9.5's own pins (datasets<=4.0, transformers<=5.6, accelerate<=1.11, peft 0.18)
    # torchaudio's compiled ops are built for torch 2.11 and fail to load on 2.13; LLaMA-Factory only imports
    # the package (audio inputs are not tested), and torchaudio runs as pure Python when its libraries are absent
    drop_globs=("torchaudio/lib/*.so",),
    requirements=("datasets==4.0.0", "transformers==5.6.0", "accelerate==1.11.0", "peft==0.18.1",
                  "trl==0.24.0", "tyro<0.9.0", "omegaconf", "fire", "av<=16.0.0"),
)


def venv_root() -> Path:
    return Path(os.environ.get("MMCOT_VENV_DIR", "/root/.cache/mmcot/venvs"))


def _pip(python: Path, *args: str, log) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def _build(spec: VenvSpec, target: Path) -> None:
    tmp = target.with_name(target.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
    see_parent(tmp)
    python = tmp / "bin" / "python"
    constraints = tmp / "constraints.txt"
    constraints.write_text(TORCH + "\n")
    started = time.monotonic()
    with open(tmp / "build.log", "w") as log:
        _pip(python, TORCH, log=log)
        _pip(python, "--no-deps", *spec.no_deps, log=log)
        _pip(python, "-c", str(constraints), *spec.requirements, log=log)
        site = next((tmp / "lib").glob("python*/site-packages"))
        for pattern in spec.drop_globs:
            for path in site.glob(pattern):
                path.unlink()
        log.write(f"built in {time.monotonic() - started:.0f} s\n")
    tmp.rename(target)


def see_parent(venv: Path) -> None:
    """Let ``venv`` see this interpreter's environment after its own packages (rewritten at each use, so a cached venv
    follows the environment the tests run in; venvs are keyed by that environment's lock)."""
    dirs = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / PARENT_PTH).write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in dirs))


def ensure_venv(spec: VenvSpec) -> Path:
    """The python executable of ``spec``'s venv, building it first if it is not cached."""
    root = venv_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{spec.name}-{spec.key()}"
    with open(root / f".{spec.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build(spec, target)
        see_parent(target)
    return target / "bin" / "python"


def run_in(python: Path, script: Path, *args: str, timeout: float = 900) -> dict:
    """Run ``script`` with the venv's python (the repo on ``PYTHONPATH``); it prints one JSON object last."""
    repo = REPO
    env = {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([str(python), str(script), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{script.name} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # build (warm) the named venvs: python tests/support/consumer_venvs.py verl llamafactory
    for name in sys.argv[1:]:
        began = time.monotonic()
        print(name, ensure_venv({"verl": VERL, "llamafactory": LLAMAFACTORY}[name]), f"{time.monotonic() - began:.0f} s")
