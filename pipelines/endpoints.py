"""Endpoint resolution, once per run: every teacher-call section's complete settings and the response cache.

Each section's backend (:mod:`transforms.teachers.registry`) fills what the section leaves
empty from :class:`EmbeddedTeacher`: the embedded model's directory (prepared once) or its
server (started on first need, stopped when the run ends). A helper section (judge, repair)
without an endpoint of its own uses the teacher's; one without a URL shares the teacher's server.
A section with a ``rate_limit`` that leaves ``workers`` empty gets the runner's worker count (its
per-worker share, :mod:`transforms.teachers.rate_limit`).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config import PipelineConfig
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, mmcot_home, prepare_embedded_teacher
from pipelines.vllm_server import VllmServer
from transforms.teachers.registry import Endpoint, backend, resolve_endpoint
from transforms.teachers.settings import TeacherSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunEndpoints:
    """The run's teacher and the helper sections that name their own model."""

    teacher: Endpoint
    helpers: dict[str, Endpoint] = field(default_factory=dict)

    def of(self, section: str) -> Endpoint:
        """The endpoint ``section`` (``judge``, ``repair`` …) calls: its own, else the teacher's."""
        return self.helpers.get(section, self.teacher)


def _require_embedded(settings: TeacherSettings, section: str, unset: str) -> None:
    if settings.model != EMBEDDED_MODEL_NAME:
        raise ValueError(f"{section}.{unset} is empty but {section}.model is {settings.model!r}: "
                         f"only the embedded teacher ({EMBEDDED_MODEL_NAME}) can be provided for you")


class EmbeddedTeacher:
    """The :class:`~transforms.teachers.registry.Provider` of a run: the embedded teacher's model and server."""

    def __init__(self, stack: contextlib.ExitStack, seed: int):
        self._stack = stack
        self._seed = seed
        self.server: str | None = None  # the run's shared server: the teacher's, once resolved

    def model_path(self, settings: TeacherSettings, section: str) -> str:
        _require_embedded(settings, section, "engine.model_path")
        return str(prepare_embedded_teacher())

    def server_url(self, settings: TeacherSettings, section: str) -> str:
        if self.server is None:
            _require_embedded(settings, section, "base_url")
            log.info("Starting the embedded teacher (vLLM on CPU, %s); this takes about a minute", EMBEDDED_MODEL_NAME)
            server = VllmServer(prepare_embedded_teacher(), EMBEDDED_MODEL_NAME, seed=self._seed, die_with_parent=True,
                                log_path=Path(mmcot_home()) / "run" / "embedded-teacher.log")
            self._stack.enter_context(server)
            log.info("Embedded teacher ready at %s (log: %s)", server.base_url, server.log_path)
            self.server = server.base_url
        return self.server

    def share(self, teacher: Endpoint) -> None:
        """Make the teacher's server (configured or embedded) the one helpers without a URL use."""
        if backend(teacher.settings.backend).needs_server:
            self.server = teacher.settings.base_url


def with_workers(settings: TeacherSettings, section: str, workers: int | None) -> TeacherSettings:
    """``settings`` with ``rate_limit.workers`` filled in from the runner's ``workers`` (1, warned, when unknown)."""
    limit = settings.rate_limit
    if limit is None or limit.workers is not None:
        return settings
    if workers is None:
        log.warning("%s.rate_limit.workers is empty and the runner does not say how many workers it runs: each "
                    "worker gets the whole limit (set %s.rate_limit.workers)", section, section)
    return settings.model_copy(update={"rate_limit": limit.model_copy(update={"workers": workers or 1})})


def resolve_endpoints(config: PipelineConfig, provider: EmbeddedTeacher, cache_url: str,
                      workers: int | None = 1) -> RunEndpoints:
    """Every teacher-call section of ``config`` as a complete Endpoint (the teacher first: helpers share its server),
    rate limits shared among ``workers`` processes."""
    teacher = resolve_endpoint(with_workers(config.teacher, "teacher", workers), "teacher", provider, cache_url)
    provider.share(teacher)
    helpers = {name: resolve_endpoint(with_workers(settings, f"{name}.endpoint", workers), f"{name}.endpoint",
                                      provider, teacher.cache_url)
               for name, settings in config.helper_endpoints().items()}
    return RunEndpoints(teacher, helpers)


@contextlib.contextmanager
def run_endpoints(config: PipelineConfig, workers: int | None = 1) -> Iterator[RunEndpoints]:
    """The run's endpoints, with whatever embedded teacher they need running until the block ends."""
    cache_url = config.teacher.cache_url or str(mmcot_home() / "responses")
    with contextlib.ExitStack() as stack:
        yield resolve_endpoints(config, EmbeddedTeacher(stack, config.teacher.seed), cache_url, workers)
