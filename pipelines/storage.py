"""Object storage: whether a path is local, and the extra a URL's scheme needs, checked before a run starts.

Paths are read and written through Beam's FileSystems (in the pipeline) and fsspec (manifest, card,
cache, publish); both need a plug-in per scheme. Checking at start turns a failure deep in a job, or
half-way through clearing outputs, into one message naming the extra to install.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping

# scheme -> (mmcot extra, modules Beam's and fsspec's filesystems need)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gs": ("gcp", ("apache_beam.io.gcp.gcsio", "gcsfs")),
    "s3": ("aws", ("boto3", "s3fs")),  # Beam's S3 client module imports without boto3, so ask for boto3 itself
}


class MissingExtra(RuntimeError):
    """A path's scheme needs an optional dependency that is not installed; the message names the extra."""


def scheme(path: str) -> str | None:
    """The URL scheme of ``path`` (``gs``, ``s3`` …), or None for a local path (``file://`` included)."""
    head, sep, _ = path.partition("://")
    return None if not sep or head == "file" else head


def is_local(path: str) -> bool:
    """Whether ``path`` names this machine's filesystem."""
    return scheme(path) is None


def _missing(modules: tuple[str, ...]) -> list[str]:
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def source_paths(sources) -> dict[str, str | None]:
    """Every path ``sources`` (SourceSettings) read, by config key; a Hub source's repo id as the ``hf://`` URL it is
    read from."""
    from transforms.sources.layouts import hub_root

    return {
        **{f"sources[{s.name}].path": hub_root(s.path) if s.kind == "hub" else s.path for s in sources},
        **{f"sources[{s.name}].image_root": s.image_root for s in sources},
    }


def config_paths(config, cache_url: str | None = None) -> dict[str, str | None]:
    """Every path a run's workers read or write, by config key (``config`` is a PipelineConfig)."""
    return {
        **source_paths(config.all_sources),
        "run.output_dir": config.run.output_dir,
        "teacher.cache_url": cache_url if cache_url is not None else config.teacher.cache_url,
    }


def require_storage(paths: Mapping[str, str | None]) -> None:
    """Raise :class:`MissingExtra` unless every path's scheme can be read and written here.

    ``paths`` maps a config key (``run.output_dir``) to its value; None values are skipped.
    """
    problems = []
    for key, path in paths.items():
        if path is None:
            continue
        extra, modules = EXTRAS.get(scheme(path) or "", (None, ()))
        missing = _missing(modules) if extra else []
        if missing:
            problems.append(f"{key}: {path} needs the {extra!r} extra: pip install 'mmcot[{extra}]' "
                            f"(missing: {', '.join(missing)})")
    if problems:
        raise MissingExtra("\n".join(problems))
