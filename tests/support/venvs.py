"""Virtualenvs for tests that must not see this checkout: mmcot's dependencies, with or without its wheel.

``deps_venv()`` holds mmcot's runtime dependencies and the ``aws`` extra's (no vLLM, no torch, no
mmcot), installed from their lock (``requirements/aws.txt``), built once per lock under
``~/.cache/mmcot/venvs/deps-<hash>`` (``$MMCOT_VENVS`` overrides the folder); a file lock lets parallel sessions
share it. ``wheel_venv()`` is a copy of it
with the mmcot wheel built from this checkout installed, rebuilt per session so it holds today's code.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

LOCK = REPO / "requirements" / "aws.txt"


def venvs_root() -> Path:
    """Where the cached virtualenvs live."""
    return Path(os.environ.get("MMCOT_VENVS", Path.home() / ".cache" / "mmcot" / "venvs"))


def python_of(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    return venv / "bin" / "python"


def deps_venv() -> Path:
    """A virtualenv with mmcot's dependencies only, exactly as locked (cached by the lock's hash)."""
    key = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    root = venvs_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"deps-{key}"
    with open(root / f"deps-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").is_file():
            return venv
        building = root / f"deps-{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
        subprocess.run([str(python_of(building)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--requirement", str(LOCK)], check=True)
        shutil.rmtree(venv, ignore_errors=True)
        building.rename(venv)  # venv scripts keep the build path; tests call `<venv>/bin/python -m …`
        (venv / ".complete").touch()
    return venv


def wheel_venv(target: Path, wheel: Path) -> Path:
    """A copy of :func:`deps_venv` at ``target`` with ``wheel`` (mmcot, no dependencies) installed."""
    shutil.copytree(deps_venv(), target, symlinks=True)
    # run outside the checkout: `python -m pip` puts its working directory on sys.path, and the mmcot.egg-info an
    # editable install leaves there would pass for mmcot installed ("already installed", and no wheel)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([str(python_of(target)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", str(wheel)], check=True, cwd=target, env=env)
    done = subprocess.run([str(python_of(target)), "-c", "import pipelines.cli"], cwd=target, env=env)
    assert done.returncode == 0, f"the mmcot wheel did not install into {target}"
    return target
