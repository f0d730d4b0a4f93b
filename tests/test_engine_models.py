"""Endpoint resolution: every section's backend fills what it leaves empty; each model keeps its own engine."""
from __future__ import annotations

import contextlib

import pytest

from pipelines import endpoints
from pipelines.config import parse_config
from transforms.teachers import vllm_engine
from transforms.teachers.settings import TeacherSettings

BASE = {"run": {"name": "x", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    """Where the embedded teacher would be prepared (the conversion itself is tested in test_teacher_server)."""
    monkeypatch.setattr(endpoints, "prepare_embedded_teacher", lambda: tmp_path / "embedded")
    return str(tmp_path / "embedded")


def _resolve(config):
    with contextlib.ExitStack() as stack:
        return endpoints.resolve_endpoints(config, endpoints.EmbeddedTeacher(stack, seed=0), "/cache")


def test_every_in_process_engine_without_a_path_gets_the_embedded_teacher(embedded):
    config = parse_config({**BASE, "teacher": {"backend": "vllm"},
                           "judge": {"endpoint": {"backend": "vllm"}},
                           "repair": {"endpoint": {"backend": "vllm", "engine": {"model_path": "/models/mine"}}}})
    resolved = _resolve(config)
    assert resolved.teacher.settings.engine.model_path == embedded
    assert resolved.of("judge").settings.engine.model_path == embedded
    assert resolved.of("repair").settings.engine.model_path == "/models/mine"  # a configured path is kept
    assert config.judge.endpoint.engine.model_path is None  # the loaded config is not changed
    assert {e.cache_url for e in (resolved.teacher, resolved.of("judge"), resolved.of("repair"))} == {"/cache"}


def test_helpers_without_their_own_url_share_the_teachers_server_and_without_an_endpoint_use_the_teacher(embedded):
    config = parse_config({**BASE, "teacher": {"base_url": "http://t:1/v1", "cache_url": "/mine"},
                           "judge": {"endpoint": {"model": "judge-model"}}, "repair": {"enabled": True}})
    resolved = _resolve(config)
    assert resolved.of("judge").settings.base_url == "http://t:1/v1"
    assert resolved.of("judge").settings.model == "judge-model"
    assert resolved.of("repair") == resolved.teacher and resolved.teacher.cache_url == "/mine"


def test_a_configured_server_is_left_alone(embedded):
    config = parse_config({**BASE, "teacher": {"base_url": "http://h:1/v1"}})
    assert _resolve(config).teacher.settings == config.teacher


def test_a_scripted_backend_needs_nothing_filled_in(embedded):
    config = parse_config({**BASE, "teacher": {"backend": "scripted", "model": "any"}})
    assert _resolve(config).teacher.settings == config.teacher


@pytest.mark.parametrize("section,patch,message", [
    ("judge", {"teacher": {"base_url": "http://t:1/v1"}, "judge": {"endpoint": {"backend": "vllm", "model": "my-judge"}}},
     r"judge\.endpoint\.engine\.model_path is empty but judge\.endpoint\.model is 'my-judge'"),
    ("teacher", {"teacher": {"model": "big-model"}}, r"teacher\.base_url is empty but teacher\.model is 'big-model'"),
])
def test_a_model_other_than_the_embedded_one_needs_its_place_and_the_error_names_the_key(embedded, section, patch, message):
    with pytest.raises(ValueError, match=message):
        _resolve(parse_config({**BASE, **patch}))


class _Engine:
    """Stands in for the engine loop: these tests are about which handle a model gets, not about vLLM."""

    def __init__(self, engine, seed):
        self.model_path, self.seed = engine.model_path, seed


def test_two_models_in_one_process_each_keep_their_own_engine(monkeypatch):
    monkeypatch.setattr(vllm_engine, "EngineLoop", _Engine)
    monkeypatch.setattr(vllm_engine, "_ENGINES", {})
    teacher = TeacherSettings(backend="vllm", engine={"model_path": "/m/teacher"})
    judge = TeacherSettings(backend="vllm", engine={"model_path": "/m/judge"})
    first = vllm_engine.shared_engine(teacher)
    other = vllm_engine.shared_engine(judge)
    again = vllm_engine.shared_engine(teacher)
    assert (first.model_path, other.model_path) == ("/m/teacher", "/m/judge")
    assert again is first  # not reloaded after the other model was used
    assert vllm_engine.shared_engine(judge) is other


def test_backends_are_named_in_one_registry_and_created_from_complete_settings():
    from transforms.teachers.registry import BACKENDS, backend, create_teacher
    from transforms.teachers.scripted import Script, ScriptedTeacher, scripted_settings

    assert {"openai", "vllm", "scripted"} <= set(BACKENDS)
    assert backend("openai").needs_server and not backend("vllm").needs_server
    with pytest.raises(ValueError, match=r"unknown backend 'tgi' \(known: openai, openai_batch, scripted, vllm, vllm_batch"):
        backend("tgi")
    assert isinstance(create_teacher(scripted_settings(Script())), ScriptedTeacher)
    with pytest.raises(ValueError, match="needs a base_url"):
        create_teacher(TeacherSettings())  # unresolved: no server URL


def test_a_batch_backend_gets_the_cache_url_it_records_its_batches_under(embedded):
    config = parse_config({**BASE, "teacher": {"base_url": "http://t:1/v1"},
                           "judge": {"endpoint": {"backend": "openai_batch", "base_url": "http://b:1/v1", "model": "j"}}})
    judge = _resolve(config).of("judge")
    assert judge.settings.cache_url == judge.cache_url == "/cache"
    with pytest.raises(ValueError, match=r"judge\.endpoint\.base_url is empty: backend openai_batch"):
        _resolve(parse_config({**BASE, "teacher": {"base_url": "http://t:1/v1"},
                               "judge": {"endpoint": {"backend": "openai_batch", "model": "j"}}}))
