"""In-process engines: every section's model path is filled in, and each model gets its own shared handle."""
from __future__ import annotations

import pytest

from pipelines import run
from pipelines.config import parse_config
from transforms.teachers import vllm_engine
from transforms.teachers.settings import TeacherSettings

BASE = {"run": {"name": "x", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    """Where the embedded teacher would be prepared (the conversion itself is tested in test_teacher_server)."""
    monkeypatch.setattr(run, "prepare_embedded_teacher", lambda: tmp_path / "embedded")
    return str(tmp_path / "embedded")


def test_every_in_process_engine_without_a_path_gets_the_embedded_teacher(embedded):
    config = parse_config({**BASE, "teacher": {"backend": "vllm"},
                           "judge": {"endpoint": {"backend": "vllm"}},
                           "repair": {"endpoint": {"backend": "vllm", "engine": {"model_path": "/models/mine"}}}})
    filled = run.with_engine_models(config)
    assert filled.teacher.engine.model_path == embedded
    assert filled.judge.endpoint.engine.model_path == embedded
    assert filled.repair.endpoint.engine.model_path == "/models/mine"  # a configured path is kept
    assert config.judge.endpoint.engine.model_path is None  # the loaded config is not changed


def test_a_server_backend_is_left_alone(embedded):
    config = parse_config({**BASE, "judge": {"endpoint": {"base_url": "http://h:1/v1"}}})
    assert run.with_engine_models(config) == config


def test_a_model_other_than_the_embedded_one_needs_its_path_and_the_error_names_the_key(embedded):
    config = parse_config({**BASE, "judge": {"endpoint": {"backend": "vllm", "model": "my-judge"}}})
    with pytest.raises(ValueError, match=r"judge\.endpoint\.engine\.model_path is empty but judge\.endpoint\.model is 'my-judge'"):
        run.with_engine_models(config)


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
