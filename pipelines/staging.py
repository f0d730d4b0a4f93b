"""Workers get mmcot the Beam way: a wheel of this mmcot, passed as ``--extra_package``.

Every DoFn lives in ``transforms.*``; a remote worker unpickling one must import mmcot. Unless the
user brings a worker image (``--sdk_container_image``) or their own ``--setup_file``, the installed
mmcot's source tree is built into a wheel (in a scratch copy, so the checkout stays clean) and added
to the job's extra packages; Beam's stager uploads it and each worker pip-installs it at start.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from pipelines.remote_guard import workers_are_remote
from pipelines.runners import runner_class

log = logging.getLogger(__name__)

PACKAGES = ("pipelines", "transforms", "schemas", "data_cards")
PROJECT_FILES = ("pyproject.toml", "README.md")
# runners whose workers install staged packages (Dask workers must have mmcot installed already)
STAGING_RUNNERS = {"DataflowRunner", "FlinkRunner", "PortableRunner", "SparkRunner", "PrismRunner"}


class StagingError(RuntimeError):
    """mmcot cannot be packaged for the workers; the message says what to pass instead."""


def source_root() -> Path:
    """The project directory this mmcot was imported from (the one holding ``pyproject.toml``)."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "mmcot"' not in pyproject.read_text():
        raise StagingError(f"mmcot is installed without its source tree ({root}), so no wheel can be built for the "
                           "workers: pass --extra_package PATH/mmcot-*.whl, --setup_file, or --sdk_container_image "
                           "(recipes in configs/containers/)")
    return root


def build_wheel(out_dir: str | Path, root: Path | None = None) -> Path:
    """Build the mmcot wheel from ``root`` (default: this source tree) into ``out_dir``; return its path."""
    root = root or source_root()
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="mmcot-src-") as scratch:
        for name in PROJECT_FILES:
            shutil.copy2(root / name, scratch)
        for name in PACKAGES:
            shutil.copytree(root / name, Path(scratch) / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(out_dir), scratch], check=True)
    wheels = sorted(out_dir.glob("mmcot-*.whl"))
    if not wheels:
        raise StagingError(f"pip wheel built no mmcot wheel in {out_dir}")
    return wheels[-1]


def needs_staging(options: PipelineOptions) -> bool:
    """Whether the runner's workers need mmcot shipped to them (remote, and no image or setup file given)."""
    values = options.get_all_options(retain_unknown_options=True)
    brought = values.get("sdk_container_image") or values.get("setup_file")
    return runner_class(options) in STAGING_RUNNERS and workers_are_remote(options) and not brought


@contextlib.contextmanager
def staged_mmcot(options: PipelineOptions) -> Iterator[Path | None]:
    """Add a freshly built mmcot wheel to ``options``' extra packages when the workers need it; yields its path."""
    if not needs_staging(options):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="mmcot-stage-") as tmp:
        wheel = build_wheel(tmp)
        setup = options.view_as(SetupOptions)
        setup.extra_packages = [*(setup.extra_packages or []), str(wheel)]
        log.info("Staging %s for the workers (--extra_package)", wheel.name)
        yield wheel
