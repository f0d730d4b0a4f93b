"""Endpoint resolution, once per run: every teacher-call section's complete settings and the response cache.

Each section's backend (:mod:`transforms.teachers.registry`) fills what the section leaves
empty from :class:`EmbeddedTeacher`: an embedded model's directory (prepared once) or its
server (started on first need, stopped when the run ends), and the model's limits (context,
images per prompt, processor: :mod:`transforms.teachers.budget`). A helper section (judge, repair)
without an endpoint of its own uses the teacher's; one without a URL shares the teacher's server.
A vision section whose model mmcot starts takes at most ``normalize.limits.max_images`` images per
prompt, the most a problem can have.
A section with a ``rate_limit`` that leaves ``workers`` empty gets the runner's worker count (its
per-worker share, :mod:`transforms.teachers.rate_limit`).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipelines.config import PipelineConfig
from pipelines.embedded_models import EMBEDDED_MODELS, EmbeddedModel
from pipelines.embedded_teacher import mmcot_home
from pipelines.vllm_server import VllmServer, embedded_server
from transforms.teachers.budget import LimitSettings, fill
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


def _require_embedded(settings: TeacherSettings, section: str, unset: str) -> EmbeddedModel:
    if settings.model not in EMBEDDED_MODELS:
        raise ValueError(f"{section}.{unset} is empty but {section}.model is {settings.model!r}: "
                         f"only the embedded models ({', '.join(EMBEDDED_MODELS)}) can be provided for you")
    return EMBEDDED_MODELS[settings.model]


def _reported_context(base_url: str, model: str) -> int | None:
    """The ``max_model_len`` a vLLM server reports for ``model`` on ``/models`` (None: not reported or not reachable)."""
    try:
        listed = httpx.get(f"{base_url.rstrip('/')}/models", timeout=5.0).json().get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    found = next((m.get("max_model_len") for m in listed if isinstance(m, dict) and m.get("id") == model), None)
    return found if isinstance(found, int) else None


def started_server_limits(limits: LimitSettings, server: VllmServer) -> LimitSettings:
    """``limits`` completed from a server mmcot started: its context, its image limit and its model's processor."""
    return fill(limits, context_tokens=server.max_model_len, max_images=server.max_images,
                processor_path=str(server.model_dir))


class EmbeddedTeacher:
    """The :class:`~transforms.teachers.registry.Provider` of a run: the embedded models' directories and servers."""

    def __init__(self, stack: contextlib.ExitStack, seed: int):
        self._stack = stack
        self._seed = seed
        self._started: dict[str, VllmServer] = {}  # by model name
        self.server: str | None = None  # the run's shared server: the teacher's, once resolved

    def model_path(self, settings: TeacherSettings, section: str) -> str:
        return str(_require_embedded(settings, section, "engine.model_path").prepare(None, False))

    def server_url(self, settings: TeacherSettings, section: str) -> str:
        """The started server of ``settings.model``, else the shared one (unless that is another embedded model's),
        else a new embedded server for it (with the section's image limit)."""
        if settings.model in self._started:
            return self._started[settings.model].base_url
        serves_other_embedded = self.server in {s.base_url for s in self._started.values()}
        if self.server is not None and not (serves_other_embedded and settings.model in EMBEDDED_MODELS):
            return self.server
        model = _require_embedded(settings, section, "base_url")
        log.info("Starting the embedded model %s (vLLM on CPU); this takes about a minute", model.name)
        server = embedded_server(model.name, max_images=settings.limits.max_images, seed=self._seed,
                                 die_with_parent=True, log_path=Path(mmcot_home()) / "run" / f"{model.name}.log")
        self._stack.enter_context(server)
        log.info("%s ready at %s (log: %s)", model.name, server.base_url, server.log_path)
        self._started[model.name] = server
        self.server = self.server or server.base_url
        return server.base_url

    def server_limits(self, settings: TeacherSettings) -> LimitSettings:
        """A started server's limits (its context, image limit and model directory), else the context the server
        at ``settings.base_url`` reports."""
        started = next((s for s in self._started.values() if s.base_url == settings.base_url), None)
        if started is not None:
            return started_server_limits(settings.limits, started)
        if settings.limits.context_tokens is not None or not settings.base_url:
            return settings.limits
        return fill(settings.limits, context_tokens=_reported_context(settings.base_url, settings.model))

    def share(self, teacher: Endpoint) -> None:
        """Make the teacher's server (configured or embedded) the one helpers without a URL use."""
        if backend(teacher.settings.backend).needs_server:
            self.server = teacher.settings.base_url


def with_image_limit(settings: TeacherSettings, max_images: int) -> TeacherSettings:
    """A vision section whose model mmcot starts (an engine, an embedded server) takes at most ``max_images`` images
    per prompt (normalize's limit: the most a problem can have) unless its limits or ``engine_kwargs`` say."""
    found = backend(settings.backend)
    starts = found.starts_model or (found.needs_server and not settings.base_url)
    if settings.modality != "vision" or settings.limits.max_images is not None or not starts:
        return settings
    configured = (settings.engine.engine_kwargs.get("limit_mm_per_prompt") or {}).get("image") if found.starts_model else None
    limits = settings.limits.model_copy(update={"max_images": configured if configured is not None else max_images})
    return settings.model_copy(update={"limits": limits})


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
    rate limits shared among ``workers`` processes, models mmcot starts limited to the problems' most images."""
    def complete(settings: TeacherSettings, section: str) -> TeacherSettings:
        return with_image_limit(with_workers(settings, section, workers), config.normalize.limits.max_images)

    teacher = resolve_endpoint(complete(config.teacher, "teacher"), "teacher", provider, cache_url)
    provider.share(teacher)
    helpers = {name: resolve_endpoint(complete(settings, f"{name}.endpoint"), f"{name}.endpoint", provider,
                                      teacher.cache_url)
               for name, settings in config.helper_endpoints().items()}
    return RunEndpoints(teacher, helpers)


@contextlib.contextmanager
def run_endpoints(config: PipelineConfig, workers: int | None = 1) -> Iterator[RunEndpoints]:
    """The run's endpoints, with whatever embedded teacher they need running until the block ends."""
    cache_url = config.teacher.cache_url or str(mmcot_home() / "responses")
    with contextlib.ExitStack() as stack:
        yield resolve_endpoints(config, EmbeddedTeacher(stack, config.teacher.seed), cache_url, workers)
