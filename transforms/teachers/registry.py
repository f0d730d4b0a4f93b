"""The teacher backends, by the name a config's ``backend:`` gives, and endpoint resolution.

A backend declares whether it talks to a server, how settings that leave a place empty are
completed (a server URL, a model path, the model's limits: a :class:`Provider` supplied by the
launcher fills them), and how it is created (``"module:callable"``, imported only where the teacher
runs, so naming a backend never imports its engine). Adding a backend is its file plus one line in
:data:`BACKENDS`.

:func:`resolve_endpoint` turns one config section into an :class:`Endpoint`: complete settings
and the response cache, which is all a teacher-call stage needs.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from transforms.teachers.base import Teacher
from transforms.teachers.budget import LimitSettings, fill
from transforms.teachers.settings import TeacherSettings


class Provider(Protocol):
    """What the launcher supplies for a section that leaves a place empty (``section``, e.g. ``judge.endpoint``,
    names it in errors)."""

    def server_url(self, settings: TeacherSettings, section: str) -> str:
        """The base URL of a server for ``settings.model``."""
        ...

    def model_path(self, settings: TeacherSettings, section: str) -> str:
        """A local directory holding ``settings.model``'s weights."""
        ...

    def server_limits(self, settings: TeacherSettings) -> LimitSettings:
        """``settings.limits`` completed with what is known of the server at ``settings.base_url`` (what it was
        started with, or what it reports)."""
        ...


Resolver = Callable[[TeacherSettings, str, Provider], TeacherSettings]
LimitResolver = Callable[[TeacherSettings, Provider], LimitSettings]


def as_configured(settings: TeacherSettings, section: str, provider: Provider) -> TeacherSettings:
    """Settings that need nothing filled in."""
    return settings


def fill_server_url(settings: TeacherSettings, section: str, provider: Provider) -> TeacherSettings:
    """``base_url`` as configured, else the provider's server."""
    if settings.base_url:
        return settings
    return settings.model_copy(update={"base_url": provider.server_url(settings, section)})


def require_server_url(settings: TeacherSettings, section: str, provider: Provider) -> TeacherSettings:
    """``base_url`` as configured (no server the launcher could start speaks the Batches API)."""
    if not settings.base_url:
        raise ValueError(f"{section}.base_url is empty: backend {settings.backend} needs the URL of a server with the "
                         "Files and Batches API")
    return settings


def fill_model_path(settings: TeacherSettings, section: str, provider: Provider) -> TeacherSettings:
    """``engine.model_path`` as configured, else the provider's local copy of the model."""
    if settings.engine.model_path:
        return settings
    engine = settings.engine.model_copy(update={"model_path": provider.model_path(settings, section)})
    return settings.model_copy(update={"engine": engine})


def configured_limits(settings: TeacherSettings, provider: Provider) -> LimitSettings:
    """The limits as configured (nothing known of the model beyond them)."""
    return settings.limits


def engine_limits(settings: TeacherSettings, provider: Provider) -> LimitSettings:
    """A local engine's limits: its ``max_model_len`` and its model's processor (images: what it is started with)."""
    return fill(settings.limits, context_tokens=settings.engine.max_model_len, processor_path=settings.engine.model_path)


def server_limits(settings: TeacherSettings, provider: Provider) -> LimitSettings:
    """A server's limits, as far as the provider knows them."""
    return provider.server_limits(settings)


@dataclass(frozen=True)
class Backend:
    """How one backend runs: ``create`` is ``"module:callable"`` taking complete settings to a Teacher;
    ``records_batches``: its settings carry the endpoint's cache URL (a batch backend records its batches there);
    ``limits`` completes a section's ``limits`` once its settings are complete; ``starts_model``: the model runs
    where the teacher runs (an engine mmcot starts, with the section's image limit)."""

    create: str
    needs_server: bool = False
    resolve: Resolver = as_configured
    records_batches: bool = False
    limits: LimitResolver = configured_limits
    starts_model: bool = False

    def make(self, settings: TeacherSettings) -> Teacher:
        """A Teacher for complete ``settings`` (imports the backend's module)."""
        module, _, name = self.create.partition(":")
        return getattr(importlib.import_module(module), name)(settings)


BACKENDS: dict[str, Backend] = {
    "openai": Backend("transforms.teachers.openai_http:OpenAIChatTeacher", needs_server=True, resolve=fill_server_url,
                      limits=server_limits),
    "vllm": Backend("transforms.teachers.vllm_engine:VllmEngineTeacher", resolve=fill_model_path, limits=engine_limits,
                    starts_model=True),
    "scripted": Backend("transforms.teachers.scripted:ScriptedTeacher"),
    "openai_batch": Backend("transforms.teachers.openai_batch:openai_batch_teacher", needs_server=True,
                            resolve=require_server_url, records_batches=True),
    "vllm_batch": Backend("transforms.teachers.vllm_batch:vllm_batch_teacher", resolve=fill_model_path,
                          records_batches=True, limits=engine_limits, starts_model=True),
}


def backend(name: str) -> Backend:
    """The registered backend ``name``; ValueError naming the known ones otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})") from None


def create_teacher(settings: TeacherSettings) -> Teacher:
    """The Teacher for complete settings (an :class:`Endpoint`'s)."""
    return backend(settings.backend).make(settings)


@dataclass(frozen=True)
class Endpoint:
    """A teacher ready to call: complete settings (URL or model path filled in) and the response cache it uses."""

    settings: TeacherSettings
    cache_url: str


def resolve_endpoint(settings: TeacherSettings, section: str, provider: Provider, cache_url: str) -> Endpoint:
    """The Endpoint for one config section: its backend fills what the section leaves empty (a batch backend's
    ``cache_url`` too: it records its batches beside the cache; the limits from the model once it is known)."""
    cache_url = settings.cache_url or cache_url
    found = backend(settings.backend)
    complete = found.resolve(settings, section, provider)
    complete = complete.model_copy(update={"limits": found.limits(complete, provider)})
    if found.records_batches:
        complete = complete.model_copy(update={"cache_url": cache_url})
    return Endpoint(complete, cache_url)
