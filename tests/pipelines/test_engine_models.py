"""Endpoint resolution: every section's backend fills what it leaves empty; each model keeps its own engine."""
from __future__ import annotations

import contextlib
import dataclasses

import pytest

from pipelines import endpoints
from pipelines.config import parse_config
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME
from transforms.teachers import vllm_engine
from transforms.teachers.settings import TeacherSettings

BASE = {"run": {"name": "x", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    """Where the embedded models would be prepared (the builds themselves are tested in test_teacher_server and
    test_vision_teacher)."""
    for name, model in endpoints.EMBEDDED_MODELS.items():
        where = tmp_path / ("embedded" if name == EMBEDDED_MODEL_NAME else name)
        monkeypatch.setitem(endpoints.EMBEDDED_MODELS, name, dataclasses.replace(model, prepare=lambda home, force, w=where: w))
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

    def __init__(self, engine, seed, max_images=None):
        self.model_path, self.seed, self.max_images = engine.model_path, seed, max_images


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


class _Server:
    """Stands in for an embedded model's vLLM server: records what it was started with."""

    started: list = []

    def __init__(self, name, home=None, max_images=None, log_path=None, **kwargs):
        self.model, self.max_images, self.max_model_len, self.log_path = name, max_images, 2048, log_path
        self.model_dir = f"/models/{name}"
        self.base_url = f"http://127.0.0.1:{9000 + len(_Server.started)}/v1"
        _Server.started.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_the_vision_teacher_is_served_with_the_problems_image_limit_and_its_limits_are_read_from_it(embedded, monkeypatch):
    from pipelines.vision_teacher import VISION_MODEL_NAME

    monkeypatch.setattr(endpoints, "embedded_server", _Server)
    monkeypatch.setattr(_Server, "started", [])
    config = parse_config({**BASE, "normalize": {"limits": {"max_images": 5}},
                           "teacher": {"model": VISION_MODEL_NAME, "modality": "vision"},
                           "judge": {}, "repair": {"enabled": True, "endpoint": {"model": EMBEDDED_MODEL_NAME}}})
    resolved = _resolve(config)
    vision, text = _Server.started
    assert (vision.model, vision.max_images, text.model, text.max_images) == (VISION_MODEL_NAME, 5, EMBEDDED_MODEL_NAME, None)
    teacher = resolved.teacher.settings
    assert teacher.base_url == vision.base_url == resolved.of("judge").settings.base_url
    assert teacher.limits.model_dump() == {"context_tokens": 2048, "max_images": 5, "processor_path": vision.model_dir}
    assert resolved.of("repair").settings.base_url == text.base_url  # another embedded model: its own server


def test_an_engine_takes_its_limits_from_its_settings_and_its_image_limit_from_normalize_unless_set(embedded):
    config = parse_config({**BASE, "normalize": {"limits": {"max_images": 3}},
                           "teacher": {"backend": "vllm", "modality": "vision", "engine": {"max_model_len": 4096}},
                           "judge": {"endpoint": {"backend": "vllm", "modality": "vision",
                                                  "engine": {"engine_kwargs": {"limit_mm_per_prompt": {"image": 7}}}}},
                           "repair": {"endpoint": {"backend": "vllm", "limits": {"max_images": 2, "context_tokens": 512}}}})
    resolved = _resolve(config)
    assert resolved.teacher.settings.limits.model_dump() == {"context_tokens": 4096, "max_images": 3,
                                                             "processor_path": embedded}
    assert resolved.of("judge").settings.limits.max_images == 7  # the engine's own limit wins
    assert resolved.of("repair").settings.limits.model_dump() == {"context_tokens": 512, "max_images": 2,
                                                                  "processor_path": embedded}  # configured: kept
    kwargs = vllm_engine.engine_kwargs(resolved.teacher.settings.engine, 0, True, resolved.teacher.settings.limits.max_images)
    assert kwargs["limit_mm_per_prompt"] == {"image": 3} and kwargs["max_model_len"] == 4096


def test_a_configured_server_reports_its_context_and_its_image_limit_stays_unknown(embedded):
    from aiohttp import web

    from tests.support.loopback_app import LoopbackApp

    class Models(LoopbackApp):
        def routes(self, app):
            async def models(request):
                return web.json_response({"data": [{"id": "other", "max_model_len": 1}, {"id": "vlm", "max_model_len": 3072}]})
            app.router.add_get("/v1/models", models)

    with Models() as server:
        config = parse_config({**BASE, "teacher": {"base_url": server.base_url, "model": "vlm", "modality": "vision"}})
        limits = _resolve(config).teacher.settings.limits
    assert limits.model_dump() == {"context_tokens": 3072, "max_images": None, "processor_path": None}
