"""Virtualenvs for tests that must not see this checkout: mmcot's dependencies, with or without its wheel.

``deps_venv()`` holds mmcot's runtime dependencies and the ``aws`` extra's (no vLLM, no torch, no
mmcot), built once per pyproject.toml under ``~/.cache/mmcot/venvs/deps-<hash>`` (``$MMCOT_VENVS``
overrides the folder); a file lock lets parallel sessions share it. ``wheel_venv()`` is a copy of it
with the mmcot wheel built from this checkout installed, rebuilt per session so it holds today's code.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXTRAS = ("aws",)


def venvs_root() -> Path:
    """Where the cached virtualenvs live."""
    return Path(os.environ.get("MMCOT_VENVS", Path.home() / ".cache" / "mmcot" / "venvs"))


def _requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *(r for extra in EXTRAS for r in project["optional-dependencies"][extra])]


def python_of(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    return venv / "bin" / "python"


def deps_venv() -> Path:
    """A virtualenv with mmcot's dependencies only (cached by the requirements' hash)."""
    requirements = _requirements()
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
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
                        *requirements], check=True)
        shutil.rmtree(venv, ignore_errors=True)
        building.rename(venv)  # venv scripts keep the build path; tests call `<venv>/bin/python -m …`
        (venv / ".complete").touch()
    return venv


def wheel_venv(target: Path, wheel: Path) -> Path:
    """A copy of :func:`deps_venv` at ``target`` with ``wheel`` (mmcot, no dependencies) installed."""
    shutil.copytree(deps_venv(), target, symlinks=True)
    subprocess.run([str(python_of(target)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", str(wheel)], check=True)
    return target
